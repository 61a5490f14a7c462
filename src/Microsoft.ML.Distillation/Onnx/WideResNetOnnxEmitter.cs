// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="WideResNetBackbone"/> as ONNX, following its forward: conv1, the pre-activation blocks of block1..3,
/// ReLU(BN(x)), global average pooling, fc. Inside a block, bn2 follows conv1 and is folded into it; the pre-activation bn1
/// (and the final bn1) read a residual sum, so they stay BatchNormalization nodes.
/// </summary>
internal static class WideResNetOnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    public static string Emit(OnnxGraphBuilder graph, WideResNetBackbone backbone, string input, string? logitsName)
    {
        string x = OnnxLayers.Convolution(graph, input, backbone.StemConvolution, followingNorm: null, "conv1");
        var stages = backbone.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            for (int b = 0; b < stages[s].Count; b++)
            {
                x = EmitBlock(graph, stages[s][b], x, $"block{s + 1}.layer.{b}");
            }
        }

        x = OnnxLayers.BatchNormalization(graph, x, backbone.FinalNorm, "bn1");
        x = OnnxLayers.Relu(graph, x, "relu");
        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "fc", logitsName);
    }

    /// <summary>
    /// <c>a = ReLU(bn1(x))</c>, <c>out = conv2(ReLU(bn2(conv1(a))))</c> plus x (same width) or convShortcut(a) (width change).
    /// </summary>
    private static string EmitBlock(OnnxGraphBuilder graph, WideResNetBlock block, string input, string name)
    {
        string activated = OnnxLayers.BatchNormalization(graph, input, block.PreActivationNorm, name + ".bn1");
        activated = OnnxLayers.Relu(graph, activated, name + ".relu1");
        string y = OnnxLayers.Convolution(graph, activated, block.First.Convolution, block.First.Norm, name + ".conv1");
        y = OnnxLayers.Relu(graph, y, name + ".relu2");
        y = OnnxLayers.Convolution(graph, y, block.Second, followingNorm: null, name + ".conv2");
        string shortcut = block.Projection is { } projection
            ? OnnxLayers.Convolution(graph, activated, projection, followingNorm: null, name + ".convShortcut")
            : input;
        return OnnxLayers.Add(graph, y, shortcut, name + ".add");
    }
}
