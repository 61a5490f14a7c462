// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="ImageNetMobileNetV2Backbone"/> (torchvision's <c>mobilenet_v2</c>) as ONNX, following its forward: every entry of
/// <c>features</c> (the stem and final conv + BN + ReLU6 units, and the inverted residual blocks with their BNs folded in and the
/// residual Add where the block has one), global average pooling and the head. ReLU6 is <see cref="OnnxLayers.Relu6"/>; the dropout before the
/// head is an identity at inference and writes no node.
/// </summary>
internal static class ImageNetMobileNetV2OnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    public static string Emit(OnnxGraphBuilder graph, ImageNetMobileNetV2Backbone backbone, string input, string? logitsName)
    {
        string x = input;
        var features = backbone.Features;
        for (int i = 0; i < features.Count; i++)
        {
            string name = $"features.{i}";
            x = features[i] switch
            {
                ImageNetInvertedResidualBlock block => Block(graph, x, block, name),
                FoldableSequential unit => OnnxLayers.Sequential(graph, x, unit, name),
                var other => throw new NotSupportedException($"'{name}': the ONNX writer does not know {other.GetType().Name} modules."),
            };
        }

        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "classifier.1", logitsName);
    }

    private static string Block(OnnxGraphBuilder graph, string input, ImageNetInvertedResidualBlock block, string name)
    {
        string y = OnnxLayers.Sequential(graph, input, block.Layers, name + ".conv");
        return block.UsesResidual ? OnnxLayers.Add(graph, input, y, name + ".add") : y;
    }
}
