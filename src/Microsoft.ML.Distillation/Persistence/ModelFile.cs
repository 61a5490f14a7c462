// Licensed under the MIT license. See LICENSE in the repository root.

using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Transformers;
using TorchSharp;

namespace Microsoft.ML.Distillation.Persistence;

/// <summary>
/// Reads and writes a trained classifier as a zip: <c>manifest.json</c> (see <see cref="ModelManifest"/>) plus TorchSharp state dicts.
/// Files are written to a temporary name in the same folder and renamed over the target, so a crash never leaves half a model.
/// </summary>
internal static class ModelFile
{
    private const string ManifestEntry = "manifest.json";
    private const string BackboneEntry = "backbone.bin";
    private const string AuxiliaryEntry = "auxiliary.bin";

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    public static void Save(TrainedClassifier model, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, stream => Save(model, stream));
    }

    public static void Save(TrainedClassifier model, Stream stream)
    {
        Onnx.OnnxTeacherNetwork.RefuseSaving(model.Network, "saved");
        var manifest = new ModelManifest
        {
            Role = model.Role,
            Architecture = model.Network.Architecture,
            InputChannels = model.Shape.Channels,
            InputHeight = model.Shape.Height,
            InputWidth = model.Shape.Width,
            ImageColumnKind = model.ImageColumn.Kind.ToString(),
            ClassCount = model.ClassCount,
            RotationCount = model.Network.RotationCount,
            ClassNames = model.ClassNames,
            NormalizationMean = model.Normalization.Mean.ToArray(),
            NormalizationStd = model.Normalization.Std.ToArray(),
            ImageColumnName = model.ImageColumn.Name,
            ScoreColumnName = model.ScoreColumnName,
            PredictedLabelColumnName = model.PredictedLabelColumnName,
            IncludesAuxiliary = true,
            TorchSharpVersion = typeof(torch).Assembly.GetName().Version?.ToString() ?? "",
        };
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
        using (var entry = zip.CreateEntry(ManifestEntry).Open())
            JsonSerializer.Serialize(entry, manifest, s_json);
        WriteModule(zip, BackboneEntry, model.Network.Backbone);
        WriteModule(zip, AuxiliaryEntry, model.Network.Auxiliary);
    }

    public static TrainedClassifier Load(string path, ComputeDevice device)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"No model file at '{Path.GetFullPath(path)}'.", path);
        using var file = File.OpenRead(path);
        return Load(file, device, path);
    }

    public static TrainedClassifier Load(Stream stream, ComputeDevice device, string name = "the stream")
    {
        TorchRuntime.EnsureLoaded();
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{name}' is not a Microsoft.ML.Distillation model: it is not a zip archive ({e.Message}). It may be truncated or corrupt.", e);
        }
        using (zip)
        {
            var manifest = ReadManifest(zip, name);
            var network = NetworkRegistry.Create(manifest.Architecture, manifest.InputChannels, manifest.ClassCount, manifest.RotationCount);
            try
            {
                ReadModule(zip, BackboneEntry, network.Backbone, name, manifest.Architecture);
                if (manifest.IncludesAuxiliary)
                    ReadModule(zip, AuxiliaryEntry, network.Auxiliary, name, manifest.Architecture);
                var shape = new ImageShape(manifest.InputChannels, manifest.InputHeight, manifest.InputWidth);
                if (!Enum.TryParse<ImageColumnKind>(manifest.ImageColumnKind, out var kind))
                    throw new InvalidDataException($"'{name}': unknown image column kind '{manifest.ImageColumnKind}' in manifest.json.");
                var normalization = ChannelNormalization.FromValues(manifest.NormalizationMean, manifest.NormalizationStd, manifest.InputChannels);
                return new TrainedClassifier(network, manifest.Role, new ImageColumnInfo(manifest.ImageColumnName, kind, shape), manifest.ClassNames,
                    normalization, manifest.ScoreColumnName, manifest.PredictedLabelColumnName, TorchRuntime.Resolve(device));
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
    }

    private static ModelManifest ReadManifest(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(ManifestEntry)
            ?? throw new InvalidDataException($"'{name}' is not a Microsoft.ML.Distillation model: it has no {ManifestEntry}.");
        ModelManifest? manifest;
        try
        {
            using var s = entry.Open();
            manifest = JsonSerializer.Deserialize<ModelManifest>(s);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw new InvalidDataException($"'{name}': {ManifestEntry} cannot be read ({e.Message}). The file is corrupt.", e);
        }
        if (manifest is null || manifest.Format != ModelManifest.FormatName)
            throw new InvalidDataException($"'{name}' is not a Microsoft.ML.Distillation model (format '{manifest?.Format}').");
        if (manifest.FormatVersion > ModelManifest.CurrentFormatVersion)
            throw new InvalidDataException(
                $"'{name}' was written in model format version {manifest.FormatVersion}, newer than this library reads (up to {ModelManifest.CurrentFormatVersion}). Update Microsoft.ML.Distillation.");
        if (manifest.ClassNames.Length != manifest.ClassCount
            || manifest.NormalizationMean.Length != manifest.InputChannels || manifest.NormalizationStd.Length != manifest.InputChannels)
            throw new InvalidDataException($"'{name}': manifest.json is inconsistent (class names, class count and normalisation lengths disagree).");
        return manifest;
    }

    private static void WriteModule(ZipArchive zip, string entryName, torch.nn.Module module)
        => ZipEntryIO.Write(zip, entryName, writer => module.save(writer));

    private static void ReadModule(ZipArchive zip, string entryName, torch.nn.Module module, string name, string architecture)
    {
        var entry = zip.GetEntry(entryName)
            ?? throw new InvalidDataException($"'{name}' has no {entryName}: the file is incomplete.");
        try
        {
            ZipEntryIO.Read(entry, reader => module.load(reader, strict: true));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException(
                $"'{name}': the weights in {entryName} do not fit a '{architecture}' network or are corrupt ({e.Message}).", e);
        }
    }
}
