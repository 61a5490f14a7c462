// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="MobileNetV2Backbone"/> as ONNX, following its forward: the stem (conv + BN + ReLU), every inverted residual block
/// (expansion, depthwise and projection convs with their BNs folded in, plus the residual Add where the block has one), the final
/// 1x1 conv + BN + ReLU, global average pooling and the classifier. The depthwise convs are Conv nodes with group = channels.
/// </summary>
internal static class MobileNetV2OnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    public static string Emit(OnnxGraphBuilder graph, MobileNetV2Backbone backbone, string input, string? logitsName)
    {
        string x = OnnxLayers.Sequential(graph, input, backbone.Stem, "conv1");
        var groups = backbone.Groups;
        for (int g = 0; g < groups.Count; g++)
        {
            for (int b = 0; b < groups[g].Count; b++)
            {
                var block = groups[g][b];
                string name = $"blocks.{g}.{b}";
                string y = OnnxLayers.Sequential(graph, x, block.Layers, name + ".conv");
                x = block.UsesResidual ? OnnxLayers.Add(graph, x, y, name + ".add") : y;
            }
        }

        x = OnnxLayers.Sequential(graph, x, backbone.Last, "conv2");
        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "classifier", logitsName);
    }
}
