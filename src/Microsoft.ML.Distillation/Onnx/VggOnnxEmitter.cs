// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="VggBackbone"/> as ONNX, following its forward: ReLU(block0), then pool + ReLU(block) for blocks 1..3, ReLU(block4)
/// without a pool before it, global average pooling, classifier. Each conv (with bias) + BN pair is folded into one Conv.
/// </summary>
internal static class VggOnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    public static string Emit(OnnxGraphBuilder graph, VggBackbone backbone, string input, string? logitsName)
    {
        var blocks = backbone.Blocks;
        var pools = backbone.Pools;
        string x = input;
        for (int i = 0; i < blocks.Count; i++)
        {
            if (i >= 1 && i - 1 < pools.Count)
            {
                x = OnnxLayers.MaxPool(graph, x, pools[i - 1], $"pool{i - 1}");
            }

            x = OnnxLayers.Sequential(graph, x, blocks[i], $"block{i}");
            x = OnnxLayers.Relu(graph, x, $"block{i}.relu");
        }

        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "classifier", logitsName);
    }
}
