// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// Opens an ONNX classifier as a frozen teacher (<see cref="OnnxTeacherNetwork"/>): resolves its input, output, shape, class names
/// and normalisation from the file and <see cref="OnnxTeacherOptions"/>, and runs it once on a zero batch, so that every mismatch
/// surfaces here, before any training.
/// </summary>
internal static class OnnxTeacherLoader
{
    public static TrainedClassifier Load(string path, OnnxTeacherOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(path))
            throw new FileNotFoundException($"ONNX teacher: no file at '{Path.GetFullPath(path)}'.", path);
        if (!(options.PixelScale > 0 && float.IsFinite(options.PixelScale)))
            throw new ArgumentOutOfRangeException(nameof(OnnxTeacherOptions.PixelScale), options.PixelScale, "PixelScale must be positive and finite (1/255 for models trained on 0..1 pixels).");

        var sessionOptions = new SessionOptions();
        if (options.IntraOpNumThreads is int threads)
            sessionOptions.IntraOpNumThreads = threads;
        InferenceSession session;
        try
        {
            session = new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"ONNX teacher '{path}': ONNX Runtime cannot open it ({e.Message}).", e);
        }

        try
        {
            return Build(path, session, options);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static TrainedClassifier Build(string path, InferenceSession session, OnnxTeacherOptions options)
    {
        var metadata = session.ModelMetadata.CustomMetadataMap;
        string inputName = Input(path, session, options.InputName);
        var inputDims = session.InputMetadata[inputName].Dimensions;
        if (session.InputMetadata[inputName].ElementType != typeof(float) || inputDims.Length != 4)
            throw new ArgumentException(
                $"ONNX teacher '{path}': input '{inputName}' is {Describe(session.InputMetadata[inputName])}; a teacher takes a float32 image batch of rank 4 " +
                $"({(options.Layout == OnnxImageLayout.Nchw ? "[N, C, H, W]" : "[N, H, W, C]")}).",
                nameof(OnnxTeacherOptions.InputName));
        var shape = InputShape(path, inputName, inputDims, options);
        if (metadata.TryGetValue("inputShape", out var exportedShape) && exportedShape != shape.ToString())
            throw new ArgumentException(
                $"ONNX teacher '{path}': its metadata gives the input shape {exportedShape}, but input '{inputName}' read as {options.Layout} is {shape}. " +
                "Files written by ExportOnnx are NCHW.", nameof(OnnxTeacherOptions.Layout));
        string outputName = Output(path, session, options.OutputName);

        string[] classNames = options.ClassNames
            ?? (metadata.TryGetValue("classNames", out var json) ? JsonSerializer.Deserialize<string[]>(json) : null)
            ?? throw new ArgumentException(
                $"ONNX teacher '{path}' does not name its classes (no 'classNames' metadata): set OnnxTeacherOptions.ClassNames to the class of each " +
                "output position, in the model's order.", nameof(OnnxTeacherOptions.ClassNames));
        if (classNames.Length < 2)
            throw new ArgumentException($"ONNX teacher '{path}': {classNames.Length} class names; a classifier has at least 2.", nameof(OnnxTeacherOptions.ClassNames));
        var outputDims = session.OutputMetadata[outputName].Dimensions;
        if (outputDims.Length == 0 || (outputDims[^1] > 0 && outputDims[^1] != classNames.Length))
            throw new ArgumentException(
                $"ONNX teacher '{path}': output '{outputName}' is {Describe(session.OutputMetadata[outputName])}, but {classNames.Length} classes are named; expected [N, {classNames.Length}].",
                nameof(OnnxTeacherOptions.OutputName));

        // This library's exports normalise inside the graph (input 'pixels' + metadata): the teacher's normalisation is theirs, undone
        // before the call. Other files take the batch as the options describe: (pixels * scale - mean) / std, applied by the engine.
        bool normalisesInside = options.Mean is null && options.Std is null
            && metadata.ContainsKey("normalizationMean") && metadata.ContainsKey("normalizationStd") && inputName == OnnxExporter.PixelsInput;
        ChannelNormalization normalization;
        float[]? undoMean = null, undoStd = null;
        if (normalisesInside)
        {
            undoMean = JsonSerializer.Deserialize<float[]>(metadata["normalizationMean"]);
            undoStd = JsonSerializer.Deserialize<float[]>(metadata["normalizationStd"]);
            normalization = ChannelNormalization.FromValues(undoMean, undoStd, shape.Channels, "normalizationMean metadata", "normalizationStd metadata");
        }
        else
        {
            float scale = options.PixelScale;
            var mean = options.Mean ?? new float[shape.Channels];
            var std = options.Std ?? Enumerable.Repeat(1f, shape.Channels).ToArray();
            normalization = ChannelNormalization.FromValues(
                mean.Select(m => m / scale).ToArray(), std.Select(s => s / scale).ToArray(), shape.Channels,
                nameof(OnnxTeacherOptions.Mean), nameof(OnnxTeacherOptions.Std));
        }

        int fixedBatch = inputDims[0] > 0 ? inputDims[0] : 0;
        var kind = metadata.TryGetValue("imageColumnKind", out var kindName) && Enum.TryParse<ImageColumnKind>(kindName, out var parsed)
            ? parsed
            : shape.Channels == 3 ? ImageColumnKind.Image : ImageColumnKind.ByteVector;
        var network = new OnnxTeacherNetwork(session, inputName, outputName, options.OutputKind, options.Layout, fixedBatch, shape,
            classNames.Length, undoMean, undoStd);
        try
        {
            DryRun(path, network, shape);
            return new TrainedClassifier(network, "Teacher", new ImageColumnInfo(options.ImageColumnName, kind, shape, $"the ONNX teacher '{path}'"),
                classNames, normalization, TrainingOptions.Defaults.ScoreColumnName, TrainingOptions.Defaults.PredictedLabelColumnName, torch.CPU);
        }
        catch
        {
            normalization.Dispose();
            throw;
        }
    }

    private static string Input(string path, InferenceSession session, string? requested)
    {
        if (requested is null)
        {
            if (session.InputMetadata.Count == 1)
                return session.InputMetadata.Keys.Single();
            throw new ArgumentException(
                $"ONNX teacher '{path}' has {session.InputMetadata.Count} inputs ({List(session.InputMetadata)}): set OnnxTeacherOptions.InputName to the image input.",
                nameof(OnnxTeacherOptions.InputName));
        }
        if (!session.InputMetadata.ContainsKey(requested))
            throw new ArgumentException(
                $"ONNX teacher '{path}' has no input '{requested}'; its inputs are {List(session.InputMetadata)}.", nameof(OnnxTeacherOptions.InputName));
        return requested;
    }

    private static string Output(string path, InferenceSession session, string? requested)
    {
        if (requested is null)
            return session.OutputMetadata.ContainsKey(OnnxExporter.LogitsOutput) ? OnnxExporter.LogitsOutput : session.OutputMetadata.Keys.First();
        if (!session.OutputMetadata.ContainsKey(requested))
            throw new ArgumentException(
                $"ONNX teacher '{path}' has no output '{requested}'; its outputs are {List(session.OutputMetadata)}.", nameof(OnnxTeacherOptions.OutputName));
        return requested;
    }

    private static ImageShape InputShape(string path, string inputName, int[] dims, OnnxTeacherOptions options)
    {
        var (c, h, w) = options.Layout == OnnxImageLayout.Nchw ? (dims[1], dims[2], dims[3]) : (dims[3], dims[1], dims[2]);
        string actual = "[" + string.Join(", ", dims.Select(d => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : "?")) + "]";
        if (options.InputShape is { } given)
        {
            if ((c > 0 && c != given.Channels) || (h > 0 && h != given.Height) || (w > 0 && w != given.Width))
                throw new ArgumentException(
                    $"ONNX teacher '{path}': OnnxTeacherOptions.InputShape is {given} but input '{inputName}' is {actual} ({options.Layout}).",
                    nameof(OnnxTeacherOptions.InputShape));
            return given;
        }
        if (c <= 0 || h <= 0 || w <= 0)
            throw new ArgumentException(
                $"ONNX teacher '{path}': input '{inputName}' is {actual} ({options.Layout}), with symbolic image dimensions; set OnnxTeacherOptions.InputShape to the images' channels, height and width.",
                nameof(OnnxTeacherOptions.InputShape));
        return new ImageShape(c, h, w);
    }

    private static void DryRun(string path, OnnxTeacherNetwork network, ImageShape shape)
    {
        using var input = torch.zeros(1, shape.Channels, shape.Height, shape.Width);
        try
        {
            using var logits = network.ForwardLogits(input);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"ONNX teacher '{path}' fails on a {shape} batch of zeros: {e.Message}", e);
        }
    }

    private static string List(IReadOnlyDictionary<string, NodeMetadata> nodes)
        => string.Join(", ", nodes.Select(n => $"'{n.Key}' {Describe(n.Value)}"));

    private static string Describe(NodeMetadata node)
        => $"{node.ElementType.Name} [{string.Join(", ", node.Dimensions.Select(d => d > 0 ? d.ToString(CultureInfo.InvariantCulture) : "?"))}]";
}
