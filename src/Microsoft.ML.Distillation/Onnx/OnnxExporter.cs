// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Transformers;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// Writes the inference path of a network (backbone and main head; never the auxiliary branches) as an ONNX model,
/// opset 13, IR version 7, weights as float32 initializers. Three graphs share the same backbone emitters:
/// <list type="bullet">
/// <item><see cref="ForNetwork"/>: normalised input <c>input</c> [N, C, H, W] (dynamic N); outputs <c>logits</c> and <c>probabilities</c> [N, K].</item>
/// <item><see cref="ForClassifier"/>: what <see cref="ImageClassifierTransformer.ExportOnnx(string)"/> writes: raw pixels <c>pixels</c>
/// [N, C, H, W] normalised inside the graph (Sub, Div), same outputs, plus metadata (class names, normalisation, architecture).</item>
/// <item><see cref="ForMLNetScoring"/>: the same computation shaped for ML.NET's OnnxTransformer, which scores one row at a time and
/// reads every output as a vector: batch fixed to 1, probabilities [K] and the arg-max class index [1] (int64).</item>
/// </list>
/// </summary>
internal static class OnnxExporter
{
    /// <summary>The ONNX operator set the graphs use.</summary>
    public const long OpsetVersion = 13;

    /// <summary>The IR version that goes with opset 13.</summary>
    public const long IrVersion = 7;

    /// <summary>Input of <see cref="ForClassifier"/>: raw pixels.</summary>
    public const string PixelsInput = "pixels";

    /// <summary>Input of <see cref="ForNetwork"/>: normalised pixels.</summary>
    public const string NormalizedInput = "input";

    /// <summary>Output: main-head logits [N, K].</summary>
    public const string LogitsOutput = "logits";

    /// <summary>Output: softmax of the logits over the classes [N, K].</summary>
    public const string ProbabilitiesOutput = "probabilities";

    private const string BatchDimension = "N";

    /// <summary>The network alone: normalised input, logits and probabilities, dynamic batch.</summary>
    public static OnnxModel ForNetwork(ClassifierNetwork network, ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(network);
        var graph = new OnnxGraphBuilder();
        string input = graph.Reserve(NormalizedInput);
        string logits = EmitBackbone(graph, network, input, shape, LogitsOutput);
        graph.AddNode("Softmax", ProbabilitiesOutput, [logits], [OnnxAttribute.Int("axis", 1)], ProbabilitiesOutput);
        var batch = OnnxDimension.Symbolic(BatchDimension);
        return Model(
            graph.Build(network.Architecture,
                [Tensor(input, batch, shape.Channels, shape.Height, shape.Width)],
                [Tensor(LogitsOutput, batch, network.ClassCount), Tensor(ProbabilitiesOutput, batch, network.ClassCount)]),
            $"{network.Architecture}: normalised NCHW float input '{NormalizedInput}'; outputs '{LogitsOutput}' and '{ProbabilitiesOutput}' [N, {network.ClassCount}].",
            [new("architecture", network.Architecture)]);
    }

    /// <summary>
    /// A fitted classifier for deployment: raw-pixel input, the normalisation as the first two nodes, logits and probabilities,
    /// dynamic batch, and metadata describing the contract.
    /// </summary>
    public static OnnxModel ForClassifier(TrainedClassifier model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = new OnnxGraphBuilder();
        string pixels = graph.Reserve(PixelsInput);
        string normalized = EmitNormalization(graph, pixels, model.Normalization);
        string logits = EmitBackbone(graph, model.Network, normalized, model.Shape, LogitsOutput);
        graph.AddNode("Softmax", ProbabilitiesOutput, [logits], [OnnxAttribute.Int("axis", 1)], ProbabilitiesOutput);
        var shape = model.Shape;
        var batch = OnnxDimension.Symbolic(BatchDimension);
        return Model(
            graph.Build(model.Network.Architecture,
                [Tensor(pixels, batch, shape.Channels, shape.Height, shape.Width)],
                [Tensor(LogitsOutput, batch, model.ClassCount), Tensor(ProbabilitiesOutput, batch, model.ClassCount)]),
            ContractDescription(model),
            Metadata(model));
    }

    /// <summary>
    /// The classifier shaped for ML.NET's ApplyOnnxModel: input <paramref name="inputName"/> [1, C, H, W] of raw pixels, output
    /// <paramref name="scoreName"/> [K] (probabilities) and <paramref name="indexName"/> [1] (int64 index of the most probable class,
    /// the first one on ties, as <see cref="ImageClassifierTransformer"/> picks it).
    /// </summary>
    public static OnnxModel ForMLNetScoring(TrainedClassifier model, string inputName, string scoreName, string indexName)
    {
        ArgumentNullException.ThrowIfNull(model);
        var graph = new OnnxGraphBuilder();
        string pixels = graph.Reserve(inputName);
        string normalized = EmitNormalization(graph, pixels, model.Normalization);
        string logits = EmitBackbone(graph, model.Network, normalized, model.Shape, outputName: null);
        string probabilities = graph.AddNode("Softmax", ProbabilitiesOutput, [logits], [OnnxAttribute.Int("axis", 1)]);
        string firstAxis = graph.AddInt64Initializer("axis0", [1], [0]);
        graph.AddNode("Squeeze", scoreName, [probabilities, firstAxis], outputName: scoreName);
        graph.AddNode("ArgMax", indexName, [probabilities],
            [OnnxAttribute.Int("axis", 1), OnnxAttribute.Int("keepdims", 0), OnnxAttribute.Int("select_last_index", 0)], indexName);
        var shape = model.Shape;
        return Model(
            graph.Build(model.Network.Architecture,
                [Tensor(pixels, 1, shape.Channels, shape.Height, shape.Width)],
                [Tensor(scoreName, model.ClassCount), Tensor(indexName, OnnxElementType.Int64, 1)]),
            ContractDescription(model) + " This variant is shaped for ML.NET's ApplyOnnxModel (one row per run).",
            Metadata(model));
    }

    /// <summary>Emits the backbone and main head of <paramref name="network"/>; returns the logits' name.</summary>
    private static string EmitBackbone(OnnxGraphBuilder graph, ClassifierNetwork network, string input, ImageShape shape, string? outputName)
    {
        OnnxTeacherNetwork.RefuseSaving(network, "exported to ONNX");
        if (network is not BranchedClassifierNetwork branched)
        {
            throw new NotSupportedException($"The ONNX writer does not know networks of type {network.GetType().Name}.");
        }

        return branched.TappedBackbone switch
        {
            ResNetBackbone<ResNetBasicBlock> resnet => ResNetOnnxEmitter.Emit(graph, resnet, input, outputName),
            ResNetBackbone<ResNetBottleneckBlock> bottleneck => ResNetOnnxEmitter.Emit(graph, bottleneck, input, outputName),
            WideResNetBackbone wrn => WideResNetOnnxEmitter.Emit(graph, wrn, input, outputName),
            VggBackbone vgg => VggOnnxEmitter.Emit(graph, vgg, input, outputName),
            MobileNetV2Backbone mobile => MobileNetV2OnnxEmitter.Emit(graph, mobile, input, outputName),
            ImageNetMobileNetV2Backbone imageNetMobile => ImageNetMobileNetV2OnnxEmitter.Emit(graph, imageNetMobile, input, outputName),
            ShuffleNetV1Backbone shuffleV1 => ShuffleNetV1OnnxEmitter.Emit(graph, shuffleV1, input, (shape.Height, shape.Width), outputName),
            ShuffleNetV2Backbone shuffleV2 => ShuffleNetV2OnnxEmitter.Emit(graph, shuffleV2, input, (shape.Height, shape.Width), outputName),
            var other => throw new NotSupportedException(
                $"The ONNX writer has no emitter for '{network.Architecture}' ({other.GetType().Name})."),
        };
    }

    /// <summary><c>(pixels - mean) / std</c> per channel, as <see cref="ChannelNormalization.Normalize"/> computes it.</summary>
    private static string EmitNormalization(OnnxGraphBuilder graph, string pixels, ChannelNormalization normalization)
    {
        long channels = normalization.Channels;
        string mean = graph.AddInitializer("normalization.mean", [channels, 1, 1], [.. normalization.Mean]);
        string std = graph.AddInitializer("normalization.std", [channels, 1, 1], [.. normalization.Std]);
        string centered = graph.AddNode("Sub", "normalization.sub", [pixels, mean]);
        return graph.AddNode("Div", "normalization.div", [centered, std]);
    }

    private static OnnxValueInfo Tensor(string name, params OnnxDimension[] shape)
        => new() { Name = name, ElementType = OnnxElementType.Float, Shape = shape };

    private static OnnxValueInfo Tensor(string name, OnnxElementType type, params OnnxDimension[] shape)
        => new() { Name = name, ElementType = type, Shape = shape };

    private static string ContractDescription(TrainedClassifier model)
    {
        var shape = model.Shape;
        string channels = model.ImageColumn.Kind == ImageColumnKind.Image ? "R, G, B planes" : $"{shape.Channels} planes as the training column held them";
        return FormattableString.Invariant(
            $"{model.Network.Architecture} image classifier ({model.Role}) from Microsoft.ML.Distillation. Input: raw pixels as float32, planar ")
            + FormattableString.Invariant($"[N, {shape.Channels}, {shape.Height}, {shape.Width}] ({channels}), in the units of the training data (0..255 for images and ")
            + FormattableString.Invariant($"byte vectors); the graph normalises them with (x - mean) / std. Outputs: logits and softmax probabilities [N, {model.ClassCount}] ")
            + "in the order of the 'classNames' metadata.";
    }

    private static KeyValuePair<string, string>[] Metadata(TrainedClassifier model) =>
    [
        new("architecture", model.Network.Architecture),
        new("role", model.Role),
        new("classNames", JsonSerializer.Serialize(model.ClassNames)),
        new("inputShape", model.Shape.ToString()),
        new("imageColumnKind", model.ImageColumn.Kind.ToString()),
        new("normalizationMean", JsonSerializer.Serialize(model.Normalization.Mean)),
        new("normalizationStd", JsonSerializer.Serialize(model.Normalization.Std)),
    ];

    private static OnnxModel Model(OnnxGraph graph, string docString, IReadOnlyList<KeyValuePair<string, string>> metadata) => new()
    {
        IrVersion = IrVersion,
        ProducerName = "Microsoft.ML.Distillation",
        ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0.0.0.0",
        Domain = "microsoft.ml.distillation",
        DocString = docString,
        Graph = graph,
        OpsetImports = [("", OpsetVersion)],
        Metadata = metadata,
    };
}
