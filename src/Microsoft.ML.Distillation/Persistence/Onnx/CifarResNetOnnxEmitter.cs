// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Persistence.Onnx;

/// <summary>
/// <see cref="CifarResNetBackbone"/> as ONNX, following its forward: ReLU(BN(conv1(x))), the basic blocks of layer1..3, global
/// average pooling, fc. Every batch norm follows a convolution and is folded into it.
/// </summary>
internal static class CifarResNetOnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    public static string Emit(OnnxGraphBuilder graph, CifarResNetBackbone backbone, string input, string? logitsName)
    {
        string x = OnnxLayers.Convolution(graph, input, backbone.StemConvolution, backbone.StemNorm, "conv1");
        x = OnnxLayers.Relu(graph, x, "relu");
        var stages = backbone.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            for (int b = 0; b < stages[s].Count; b++)
            {
                x = EmitBlock(graph, stages[s][b], x, $"layer{s + 1}.{b}");
            }
        }

        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "fc", logitsName);
    }

    /// <summary>
    /// <c>ReLU(BN2(conv2(ReLU(BN1(conv1(x))))) + shortcut(x))</c>, shortcut = BN(1x1 conv) or identity. Shared with
    /// <see cref="ImageNetResNetOnnxEmitter"/>, whose stages are made of the same blocks.
    /// </summary>
    internal static string EmitBlock(OnnxGraphBuilder graph, ResNetBasicBlock block, string input, string name)
    {
        string y = OnnxLayers.Convolution(graph, input, block.First.Convolution, block.First.Norm, name + ".conv1");
        y = OnnxLayers.Relu(graph, y, name + ".relu1");
        y = OnnxLayers.Convolution(graph, y, block.Second.Convolution, block.Second.Norm, name + ".conv2");
        string shortcut = block.Projection is { } projection
            ? OnnxLayers.Convolution(graph, input, projection.Convolution, projection.Norm, name + ".downsample.0")
            : input;
        string sum = OnnxLayers.Add(graph, y, shortcut, name + ".add");
        return OnnxLayers.Relu(graph, sum, name + ".relu2");
    }
}
