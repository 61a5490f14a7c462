// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="ResNetBackbone{TBlock}"/> (the CIFAR ResNets, resnet50 and resnet18/34) as ONNX, following its forward:
/// ReLU(BN(conv1(x))), the stem max pooling when there is one, the blocks of layer1..N, global average pooling, the head.
/// Every batch norm follows a convolution and is folded into it.
/// </summary>
/// <remarks>
/// The stem pooling is ONNX MaxPool with kernel 3, stride 2, pads 1 on every side and ceil_mode 0. Like PyTorch, ONNX max
/// pooling never selects a padded position (padding acts as -inf) and, without ceil mode, gives
/// floor((H + 2p - k) / s) + 1 rows, so the two agree on every input size, down to 1x1.
/// </remarks>
internal static class ResNetOnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    /// <param name="graph">The graph under construction.</param>
    /// <param name="backbone">The backbone.</param>
    /// <param name="input">The input's name.</param>
    /// <param name="logitsName">The logits' name, or null for a generated one.</param>
    public static string Emit<TBlock>(
        OnnxGraphBuilder graph, ResNetBackbone<TBlock> backbone, string input, string? logitsName)
        where TBlock : nn.Module<Tensor, Tensor>, IResNetBlock<TBlock>
    {
        string x = OnnxLayers.Convolution(graph, input, backbone.StemConvolution, backbone.StemNorm, "conv1");
        x = OnnxLayers.Relu(graph, x, "relu");
        if (backbone.StemPool is { } pool)
        {
            x = OnnxLayers.MaxPool(graph, x, pool, "maxpool");
        }

        var stages = backbone.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            for (int b = 0; b < stages[s].Count; b++)
            {
                x = EmitBlock(graph, stages[s][b], x, $"layer{s + 1}.{b}");
            }
        }

        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, backbone.HeadName, logitsName);
    }

    /// <summary>
    /// One block: <c>ReLU(branch(x) + shortcut(x))</c>, the branch its <see cref="IResNetBlock{TSelf}.Body"/> pairs with a ReLU
    /// between consecutive ones, the shortcut BN(1x1 conv) or identity.
    /// </summary>
    private static string EmitBlock<TBlock>(OnnxGraphBuilder graph, TBlock block, string input, string name)
        where TBlock : IResNetBlock<TBlock>
    {
        var body = block.Body;
        string y = input;
        for (int i = 0; i < body.Count; i++)
        {
            if (i > 0)
            {
                y = OnnxLayers.Relu(graph, y, $"{name}.relu{i}");
            }

            y = OnnxLayers.Convolution(graph, y, body[i].Convolution, body[i].Norm, $"{name}.conv{i + 1}");
        }

        string shortcut = block.Projection is { } projection
            ? OnnxLayers.Convolution(graph, input, projection.Convolution, projection.Norm, $"{name}.{TBlock.ProjectionName}.0")
            : input;
        string sum = OnnxLayers.Add(graph, y, shortcut, name + ".add");
        return OnnxLayers.Relu(graph, sum, $"{name}.relu{body.Count}");
    }
}
