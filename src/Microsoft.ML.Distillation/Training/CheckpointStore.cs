// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Distillation.Persistence;
using TorchSharp;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// <c>checkpoint.json</c> of an epoch checkpoint. Format version 1:
/// <code>
/// format            "Microsoft.ML.Distillation.Checkpoint"
/// formatVersion     1; a reader refuses newer versions
/// phase             "Teacher", "HSAKD", "KD", "Baseline", ...
/// architecture      registry name of the trained network
/// inputChannels, classCount, rotationCount   the network's shape
/// epochsCompleted   1-based count of finished epochs (the next epoch to run is this, 0-based)
/// epochs            the training's total epochs
/// seed              the seed the training ran with (a resume uses it, whatever the options say)
/// trainRows, batchSize   must match on resume: the data order depends on them
/// normalizationMean/Std  the per-channel normalisation in use
/// validationAccuracy     accuracy on the validation set after this epoch (absent without one; optional on reading)
/// </code>
/// Zip entries: <c>checkpoint.json</c>, <c>network.bin</c> (TorchSharp state dict of the whole network, auxiliary branches
/// included) and <c>optimizer.bin</c> (SGD state: momentum buffers). The learning rate is not stored: it is a function of the epoch.
/// </summary>
internal sealed class CheckpointManifest
{
    public const string FormatName = "Microsoft.ML.Distillation.Checkpoint";
    public const int CurrentFormatVersion = 1;

    [JsonPropertyName("format")] public string Format { get; set; } = FormatName;
    [JsonPropertyName("formatVersion")] public int FormatVersion { get; set; } = CurrentFormatVersion;
    [JsonPropertyName("phase")] public string Phase { get; set; } = "";
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("inputChannels")] public int InputChannels { get; set; }
    [JsonPropertyName("classCount")] public int ClassCount { get; set; }
    [JsonPropertyName("rotationCount")] public int RotationCount { get; set; }
    [JsonPropertyName("epochsCompleted")] public int EpochsCompleted { get; set; }
    [JsonPropertyName("epochs")] public int Epochs { get; set; }
    [JsonPropertyName("seed")] public int Seed { get; set; }
    [JsonPropertyName("trainRows")] public int TrainRows { get; set; }
    [JsonPropertyName("batchSize")] public int BatchSize { get; set; }
    [JsonPropertyName("normalizationMean")] public float[] NormalizationMean { get; set; } = Array.Empty<float>();
    [JsonPropertyName("normalizationStd")] public float[] NormalizationStd { get; set; } = Array.Empty<float>();

    /// <summary>
    /// Accuracy on the validation set after the checkpoint's epoch; null without a validation set, and in checkpoints written before
    /// this field existed. A sweep reads it to finish a rung whose checkpoint was written but whose result was not recorded.
    /// </summary>
    [JsonPropertyName("validationAccuracy")] public double? ValidationAccuracy { get; set; }
}

/// <summary>
/// Epoch checkpoints in a directory: <c>{phase}-epoch-{NNNN}.ckpt</c>. Each is written to a temporary name, flushed to disk
/// and renamed, so a file with a final name is always complete; the newest <see cref="Keep"/> are kept. A reader trusts only
/// final names, so a training killed while writing leaves the previous checkpoint in charge.
/// </summary>
internal sealed class CheckpointStore
{
    private const string ManifestEntry = "checkpoint.json";
    private const string NetworkEntry = "network.bin";
    private const string OptimizerEntry = "optimizer.bin";
    private const string LossEntry = "loss.bin";
    private const string Extension = ".ckpt";

    public CheckpointStore(string directory, string phase, int keep)
    {
        Directory = Path.GetFullPath(directory);
        Phase = phase;
        Keep = Math.Max(1, keep);
    }

    public string Directory { get; }

    public string Phase { get; }

    public int Keep { get; }

    private string Prefix => Phase.ToLowerInvariant() + "-epoch-";

    /// <summary>The complete checkpoints of this phase, newest first.</summary>
    public IReadOnlyList<string> List()
    {
        if (!System.IO.Directory.Exists(Directory))
            return Array.Empty<string>();
        return System.IO.Directory.EnumerateFiles(Directory, Prefix + "*" + Extension)
            .Where(f => int.TryParse(Path.GetFileNameWithoutExtension(f)[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .OrderByDescending(f => f, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>Writes the checkpoint after <paramref name="manifest"/>.EpochsCompleted epochs, then prunes old ones.</summary>
    public string Save(CheckpointManifest manifest, torch.nn.Module network, torch.optim.Optimizer optimizer, torch.nn.Module? lossModule = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string final = Path.Combine(Directory, $"{Prefix}{manifest.EpochsCompleted:D4}{Extension}");
        string temp = final + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
                {
                    using (var entry = zip.CreateEntry(ManifestEntry).Open())
                        JsonSerializer.Serialize(entry, manifest);
                    // Training may keep convolution weights (and so their momentum buffers) in channels-last strides; files hold
                    // the standard layout.
                    using (ChannelsLast.Standard(network))
                        ZipEntryIO.Write(zip, NetworkEntry, writer => network.save(writer));
                    ChannelsLast.StandardMomentumBuffers(optimizer);
                    ZipEntryIO.Write(zip, OptimizerEntry, writer => ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(writer));
                    if (lossModule is not null)
                        ZipEntryIO.Write(zip, LossEntry, writer => lossModule.save(writer));
                }
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, final, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
        foreach (var old in List().Skip(Keep))
            File.Delete(old);
        return final;
    }

    /// <summary>Reads the manifest of a checkpoint file, with clear errors for files that are not complete checkpoints.</summary>
    public static CheckpointManifest ReadManifest(string path)
    {
        using var zip = Open(path);
        var entry = zip.GetEntry(ManifestEntry) ?? throw Corrupt(path, $"it has no {ManifestEntry}");
        CheckpointManifest? manifest;
        try
        {
            using var s = entry.Open();
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(s);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException)
        {
            throw Corrupt(path, $"{ManifestEntry} cannot be read ({e.Message})", e);
        }
        if (manifest is null || manifest.Format != CheckpointManifest.FormatName)
            throw Corrupt(path, "it is not a Microsoft.ML.Distillation checkpoint");
        if (manifest.FormatVersion > CheckpointManifest.CurrentFormatVersion)
            throw new InvalidDataException(
                $"Checkpoint '{path}' has format version {manifest.FormatVersion}, newer than this library reads (up to {CheckpointManifest.CurrentFormatVersion}). Update Microsoft.ML.Distillation.");
        return manifest;
    }

    /// <summary>Loads network weights and optimiser state from a checkpoint whose manifest was already checked.</summary>
    public static void Restore(string path, torch.nn.Module network, torch.optim.Optimizer optimizer, torch.nn.Module? lossModule = null)
    {
        using var zip = Open(path);
        using (ChannelsLast.Standard(network)) // read into the standard layout; training's channels-last strides come back after
            ReadEntry(zip, path, NetworkEntry, reader => network.load(reader, strict: true));
        if (lossModule is not null)
            ReadEntry(zip, path, LossEntry, reader => lossModule.load(reader, strict: true));
        ReadEntry(zip, path, OptimizerEntry, reader => ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(reader));
    }

    private static ZipArchive Open(string path)
    {
        try
        {
            return new ZipArchive(File.OpenRead(path), ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(path, "it is not a readable zip archive (truncated?)", e);
        }
    }

    private static void ReadEntry(ZipArchive zip, string path, string name, Action<BinaryReader> read)
    {
        var entry = zip.GetEntry(name) ?? throw Corrupt(path, $"it has no {name}");
        try
        {
            ZipEntryIO.Read(entry, read);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not InvalidDataException)
        {
            throw Corrupt(path, $"{name} does not fit this network or is damaged ({e.Message})", e);
        }
    }

    private static InvalidDataException Corrupt(string path, string why, Exception? inner = null)
        => new($"Checkpoint '{path}' cannot be used: {why}. Delete it to resume from an earlier one, or start without Resume.", inner);
}
