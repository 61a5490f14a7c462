// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="ShuffleNetV1Backbone"/> as ONNX, following its forward: ReLU(BN(conv1(x))), the units of layer1..3, global average
/// pooling, linear. In a unit: grouped 1x1 conv + ReLU, channel shuffle (Reshape / Transpose / Reshape), depthwise 3x3 conv + ReLU,
/// grouped 1x1 conv, then Concat with AveragePool(x) (count_include_pad = 1, as PyTorch) for a stride-2 unit or Add x for a
/// stride-1 unit, and ReLU. Every batch norm follows a convolution and is folded into it.
/// </summary>
internal static class ShuffleNetV1OnnxEmitter
{
    /// <summary>
    /// Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised, of spatial size <paramref name="size"/>: the
    /// channel shuffles need each map's); returns the logits' name.
    /// </summary>
    public static string Emit(OnnxGraphBuilder graph, ShuffleNetV1Backbone backbone, string input, (long Height, long Width) size, string? logitsName)
    {
        string x = OnnxLayers.Convolution(graph, input, backbone.StemConvolution, backbone.StemNorm, "conv1");
        size = OnnxLayers.OutputSize(size, backbone.StemConvolution);
        x = OnnxLayers.Relu(graph, x, "relu");
        var stages = backbone.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            for (int u = 0; u < stages[s].Count; u++)
            {
                x = EmitUnit(graph, stages[s][u], x, size, $"layer{s + 1}.{u}");
                size = OnnxLayers.OutputSize(size, stages[s][u].Depthwise.Convolution);
            }
        }

        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "linear", logitsName);
    }

    private static string EmitUnit(OnnxGraphBuilder graph, ShuffleNetV1Unit unit, string input, (long Height, long Width) size, string name)
    {
        string y = OnnxLayers.Convolution(graph, input, unit.Reduce.Convolution, unit.Reduce.Norm, name + ".conv1");
        y = OnnxLayers.Relu(graph, y, name + ".relu1");
        y = OnnxLayers.ChannelShuffle(graph, y, unit.Reduce.Convolution.out_channels, unit.ShuffleGroups, OnnxLayers.OutputSize(size, unit.Reduce.Convolution), name + ".shuffle1");
        y = OnnxLayers.Convolution(graph, y, unit.Depthwise.Convolution, unit.Depthwise.Norm, name + ".conv2");
        y = OnnxLayers.Relu(graph, y, name + ".relu2");
        y = OnnxLayers.Convolution(graph, y, unit.Expand.Convolution, unit.Expand.Norm, name + ".conv3");
        y = unit.Pool is { } pool
            ? OnnxLayers.ConcatChannels(graph, [y, OnnxLayers.AveragePool(graph, input, pool, name + ".shortcut")], name + ".concat")
            : OnnxLayers.Add(graph, y, input, name + ".add");
        return OnnxLayers.Relu(graph, y, name + ".relu3");
    }
}
