// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// <see cref="ShuffleNetV2Backbone"/> as ONNX, following its forward: ReLU(BN(conv1(x))), the units of layer1..3, ReLU(BN(conv2)),
/// global average pooling, linear. A down unit is two conv branches joined by Concat; a basic unit splits its input with two Slice
/// nodes, transforms the second half and concatenates; both end with the 2-group channel shuffle (Reshape / Transpose / Reshape).
/// Every batch norm follows a convolution and is folded into it.
/// </summary>
internal static class ShuffleNetV2OnnxEmitter
{
    /// <summary>
    /// Emits the backbone reading <paramref name="input"/> ([N, C, H, W], normalised, of spatial size <paramref name="size"/>: the
    /// channel shuffles need each map's); returns the logits' name.
    /// </summary>
    public static string Emit(OnnxGraphBuilder graph, ShuffleNetV2Backbone backbone, string input, (long Height, long Width) size, string? logitsName)
    {
        string x = OnnxLayers.Convolution(graph, input, backbone.StemConvolution, backbone.StemNorm, "conv1");
        size = OnnxLayers.OutputSize(size, backbone.StemConvolution);
        x = OnnxLayers.Relu(graph, x, "relu");
        var stages = backbone.Stages;
        for (int s = 0; s < stages.Count; s++)
        {
            for (int u = 0; u < stages[s].Count; u++)
            {
                string name = $"layer{s + 1}.{u}";
                if (stages[s][u] is ShuffleNetV2DownUnit downUnit)
                    size = OnnxLayers.OutputSize(size, downUnit.Layers[0].Convolution);
                x = stages[s][u] switch
                {
                    ShuffleNetV2DownUnit down => EmitDownUnit(graph, down, x, size, name),
                    ShuffleNetV2BasicUnit basic => EmitBasicUnit(graph, basic, x, size, name),
                    var other => throw new NotSupportedException($"'{name}': the ONNX writer does not know {other.GetType().Name} units."),
                };
            }
        }

        x = OnnxLayers.Convolution(graph, x, backbone.Last.Convolution, backbone.Last.Norm, "conv2");
        x = OnnxLayers.Relu(graph, x, "relu2");
        string embedding = OnnxLayers.GlobalAveragePoolFlat(graph, x, "avgpool");
        return OnnxLayers.Linear(graph, embedding, backbone.Head, "linear", logitsName);
    }

    /// <summary>Left: dw conv, 1x1 conv + ReLU; right: 1x1 conv + ReLU, dw conv, 1x1 conv + ReLU; Concat(left, right); shuffle(2).</summary>
    private static string EmitDownUnit(OnnxGraphBuilder graph, ShuffleNetV2DownUnit unit, string input, (long Height, long Width) size, string name)
    {
        var layers = unit.Layers;
        string left = Conv(graph, layers[0], input, name + ".conv1");
        left = OnnxLayers.Relu(graph, Conv(graph, layers[1], left, name + ".conv2"), name + ".relu2");
        string right = OnnxLayers.Relu(graph, Conv(graph, layers[2], input, name + ".conv3"), name + ".relu3");
        right = Conv(graph, layers[3], right, name + ".conv4");
        right = OnnxLayers.Relu(graph, Conv(graph, layers[4], right, name + ".conv5"), name + ".relu5");
        string joined = OnnxLayers.ConcatChannels(graph, [left, right], name + ".concat");
        long channels = layers[1].Convolution.out_channels + layers[4].Convolution.out_channels;
        return OnnxLayers.ChannelShuffle(graph, joined, channels, 2, size, name + ".shuffle");
    }

    /// <summary>Split in halves; 1x1 conv + ReLU, dw conv, 1x1 conv + ReLU on the second; Concat(first, transformed); shuffle(2).</summary>
    private static string EmitBasicUnit(OnnxGraphBuilder graph, ShuffleNetV2BasicUnit unit, string input, (long Height, long Width) size, string name)
    {
        var layers = unit.Layers;
        long half = unit.Channels / 2;
        string kept = OnnxLayers.SliceChannels(graph, input, 0, half, name + ".split0");
        string x = OnnxLayers.SliceChannels(graph, input, half, unit.Channels, name + ".split1");
        x = OnnxLayers.Relu(graph, Conv(graph, layers[0], x, name + ".conv1"), name + ".relu1");
        x = Conv(graph, layers[1], x, name + ".conv2");
        x = OnnxLayers.Relu(graph, Conv(graph, layers[2], x, name + ".conv3"), name + ".relu3");
        string joined = OnnxLayers.ConcatChannels(graph, [kept, x], name + ".concat");
        return OnnxLayers.ChannelShuffle(graph, joined, unit.Channels, 2, size, name + ".shuffle");
    }

    private static string Conv(
        OnnxGraphBuilder graph, (TorchSharp.Modules.Conv2d Convolution, TorchSharp.Modules.BatchNorm2d Norm) layer, string input, string name)
        => OnnxLayers.Convolution(graph, input, layer.Convolution, layer.Norm, name);
}
