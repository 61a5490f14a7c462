// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Persistence.Onnx;

/// <summary>
/// <see cref="ImageNetResNetBackbone"/> (resnet18/34) as ONNX, following its forward: MaxPool(ReLU(BN(conv1(x)))), the basic
/// blocks of layer1..4, global average pooling, fc. Every batch norm follows a convolution and is folded into it.
/// </summary>
/// <remarks>
/// The stem pooling is ONNX MaxPool with kernel 3, stride 2, pads 1 on every side and ceil_mode 0. Like PyTorch, ONNX max
/// pooling never selects a padded position (padding acts as -inf) and, without ceil mode, gives
/// floor((H + 2p - k) / s) + 1 rows, so the two agree on every input size, down to 1x1.
/// </remarks>
internal static class ImageNetResNetOnnxEmitter
{
    /// <summary>Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised); returns the logits' name.</summary>
    public static string Emit(OnnxGraphBuilder graph, ImageNetResNetBackbone backbone, string input, string? logitsName)
    {
        string x = OnnxLayers.Convolution(graph, input, backbone.StemConvolution, backbone.StemNorm, "conv1");
        x = OnnxLayers.Relu(graph, x, "relu");
        x = OnnxLayers.MaxPool(graph, x, backbone.StemPool, "maxpool");
        var stages = backbone.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            for (int b = 0; b < stages[s].Count; b++)
            {
                x = CifarResNetOnnxEmitter.EmitBlock(graph, stages[s][b], x, $"layer{s + 1}.{b}");
            }
        }

        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "fc", logitsName);
    }
}
