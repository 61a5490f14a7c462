// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// TorchSharp modules as ONNX nodes (opset 13), with their weights as initializers. Each method takes the name of the value
/// the layer reads and returns the name of the value it produces; <c>name</c> is the module's state-dict path, used for the
/// node and initializer names so that a graph viewer shows where each node comes from.
/// </summary>
/// <remarks>
/// Inference semantics only: batch norms use their running statistics, as TorchSharp does in eval mode.
/// </remarks>
internal static class OnnxLayers
{
    /// <summary>
    /// A 2-d convolution, with the batch norm that directly follows it folded in when <paramref name="followingNorm"/> is given:
    /// with s = gamma / sqrt(var + eps), <c>W' = W * s</c> per output channel and <c>b' = (b - mean) * s + beta</c>
    /// (<see cref="BatchNormFolding.Fold"/>: computed in float64, stored as float32).
    /// </summary>
    public static string Convolution(OnnxGraphBuilder graph, string input, Conv2d conv, BatchNorm2d? followingNorm, string name)
    {
        if (conv.padding is not { Length: 2 } padding || conv.padding_mode != PaddingModes.Zeros)
        {
            throw new NotSupportedException($"'{name}': only convolutions with explicit zero padding can be written to ONNX.");
        }

        long outChannels = conv.out_channels;
        double[] weight, bias;
        string weightName = name + ".weight";
        if (followingNorm is not null)
        {
            if (followingNorm.running_mean is null || followingNorm.running_var is null)
            {
                throw new NotSupportedException($"'{name}': a batch norm without running statistics cannot be folded.");
            }

            using var scope = NewDisposeScope();
            var (foldedWeight, foldedBias) = BatchNormFolding.Fold(conv, followingNorm);
            weight = Values(foldedWeight);
            bias = Values(foldedBias);
            weightName = name + ".weight_folded";
        }
        else
        {
            weight = Values(conv.weight!);
            bias = conv.bias is null ? new double[outChannels] : Values(conv.bias);
        }

        long[] kernel = conv.kernel_size;
        string w = graph.AddInitializer(weightName, [outChannels, conv.in_channels / conv.groups, kernel[0], kernel[1]], ToFloats(weight));
        string b = graph.AddInitializer(followingNorm is null ? name + ".bias" : name + ".bias_folded", [outChannels], ToFloats(bias));
        return graph.AddNode("Conv", name, [input, w, b],
        [
            OnnxAttribute.Ints("kernel_shape", kernel[0], kernel[1]),
            OnnxAttribute.Ints("strides", conv.stride[0], conv.stride[1]),
            OnnxAttribute.Ints("pads", padding[0], padding[1], padding[0], padding[1]),
            OnnxAttribute.Ints("dilations", conv.dilation[0], conv.dilation[1]),
            OnnxAttribute.Int("group", conv.groups),
        ]);
    }

    /// <summary>A batch norm that cannot be folded (it does not follow a convolution), as BatchNormalization with its running statistics.</summary>
    public static string BatchNormalization(OnnxGraphBuilder graph, string input, BatchNorm2d norm, string name)
    {
        if (norm.running_mean is null || norm.running_var is null)
        {
            throw new NotSupportedException($"'{name}': a batch norm without running statistics cannot be written to ONNX.");
        }

        long channels = norm.num_features;
        float[] scale = norm.weight is null ? Filled(channels, 1f) : ToFloats(Values(norm.weight));
        float[] shift = norm.bias is null ? new float[channels] : ToFloats(Values(norm.bias));
        string s = graph.AddInitializer(name + ".weight", [channels], scale);
        string b = graph.AddInitializer(name + ".bias", [channels], shift);
        string m = graph.AddInitializer(name + ".running_mean", [channels], ToFloats(Values(norm.running_mean)));
        string v = graph.AddInitializer(name + ".running_var", [channels], ToFloats(Values(norm.running_var)));
        return graph.AddNode("BatchNormalization", name, [input, s, b, m, v], [OnnxAttribute.Float("epsilon", (float)norm.eps)]);
    }

    /// <summary>A linear layer on [N, D]: Gemm(x, W, b) with transB = 1, W stored as PyTorch keeps it ([out, in]).</summary>
    public static string Linear(OnnxGraphBuilder graph, string input, Linear linear, string name, string? outputName = null)
    {
        long outFeatures = linear.out_features;
        string w = graph.AddInitializer(name + ".weight", [outFeatures, linear.in_features], ToFloats(Values(linear.weight)));
        var inputs = new List<string> { input, w };
        if (linear.bias is not null)
        {
            inputs.Add(graph.AddInitializer(name + ".bias", [outFeatures], ToFloats(Values(linear.bias))));
        }

        return graph.AddNode("Gemm", name, inputs, [OnnxAttribute.Int("transB", 1)], outputName);
    }

    /// <summary>2-d max pooling with the module's kernel, stride, padding, dilation and ceil mode.</summary>
    public static string MaxPool(OnnxGraphBuilder graph, string input, MaxPool2d pool, string name)
    {
        long[] kernel = Pair(pool.kernel_size);
        long[] stride = pool.stride is null || pool.stride.Length == 0 ? kernel : Pair(pool.stride);
        long[] padding = pool.padding is null || pool.padding.Length == 0 ? [0, 0] : Pair(pool.padding);
        long[] dilation = pool.dilation is null || pool.dilation.Length == 0 ? [1, 1] : Pair(pool.dilation);
        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Ints("kernel_shape", kernel),
            OnnxAttribute.Ints("strides", stride),
            OnnxAttribute.Ints("pads", padding[0], padding[1], padding[0], padding[1]),
            OnnxAttribute.Int("ceil_mode", pool.ceil_mode ? 1 : 0),
        };
        if (dilation[0] != 1 || dilation[1] != 1)
        {
            attributes.Add(OnnxAttribute.Ints("dilations", dilation));
        }

        return graph.AddNode("MaxPool", name, [input], attributes);
    }

    /// <summary>
    /// 2-d average pooling with the module's kernel, stride, padding and ceil mode. <c>count_include_pad</c> carries over: PyTorch's
    /// default (true) divides by the full window even where it covers zero padding, and ONNX's default (0) would not.
    /// </summary>
    public static string AveragePool(OnnxGraphBuilder graph, string input, AvgPool2d pool, string name)
    {
        if (pool.divisor_override is not null)
        {
            throw new NotSupportedException($"'{name}': average pooling with a divisor override cannot be written to ONNX.");
        }

        long[] kernel = Pair(pool.kernel_size);
        long[] stride = pool.stride is null || pool.stride.Length == 0 ? kernel : Pair(pool.stride);
        long[] padding = pool.padding is null || pool.padding.Length == 0 ? [0, 0] : Pair(pool.padding);
        if (pool.count_include_pad && (padding[0] > 0 || padding[1] > 0))
        {
            // The zeros become real values (an explicit Pad), so every window divides by its full size: the same numbers as
            // count_include_pad = 1, which OpenCV's DNN importer (4.6) does not honour.
            string pads = graph.AddInt64Initializer(name + ".pads", [8], [0, 0, padding[0], padding[1], 0, 0, padding[0], padding[1]]);
            input = graph.AddNode("Pad", name + ".pad", [input, pads]);
            padding = [0, 0];
        }

        return graph.AddNode("AveragePool", name, [input],
        [
            OnnxAttribute.Ints("kernel_shape", kernel),
            OnnxAttribute.Ints("strides", stride),
            OnnxAttribute.Ints("pads", padding[0], padding[1], padding[0], padding[1]),
            OnnxAttribute.Int("ceil_mode", pool.ceil_mode ? 1 : 0),
            OnnxAttribute.Int("count_include_pad", pool.count_include_pad ? 1 : 0),
        ]);
    }

    /// <summary>Concatenation along the channel axis (torch.cat(inputs, 1)).</summary>
    public static string ConcatChannels(OnnxGraphBuilder graph, IReadOnlyList<string> inputs, string name)
        => graph.AddNode("Concat", name, inputs, [OnnxAttribute.Int("axis", 1)]);

    /// <summary>Channels [<paramref name="start"/>, <paramref name="end"/>) of an [N, C, H, W] value (x[:, start:end]), as Slice.</summary>
    public static string SliceChannels(OnnxGraphBuilder graph, string input, long start, long end, string name)
    {
        string starts = graph.AddInt64Initializer(name + ".starts", [1], [start]);
        string ends = graph.AddInt64Initializer(name + ".ends", [1], [end]);
        string axes = graph.AddInt64Initializer(name + ".axes", [1], [1]);
        return graph.AddNode("Slice", name, [input, starts, ends, axes]);
    }

    /// <summary>
    /// The ShuffleNet channel shuffle of an [N, C, H, W] value of known spatial size: Reshape to [N, g, C/g, H·W], Transpose to
    /// [N, C/g, g, H·W] and Reshape to [N, C, H, W], the batch copied (0) so it stays dynamic. The shapes are constants: a shape read
    /// with a Shape node fixes the batch at 1 in OpenCV's DNN importer. With g = 1 it is the identity and emits nothing.
    /// </summary>
    public static string ChannelShuffle(OnnxGraphBuilder graph, string input, long channels, long groups, (long Height, long Width) size, string name)
    {
        if (groups == 1)
        {
            return input;
        }

        if (groups < 1 || channels % groups != 0)
        {
            throw new ArgumentException($"'{name}': {channels} channels cannot be shuffled in {groups} groups.", nameof(groups));
        }

        string grouped = graph.AddInt64Initializer(name + ".grouped_shape", [4], [0, groups, channels / groups, size.Height * size.Width]);
        string split = graph.AddNode("Reshape", name + ".split", [input, grouped]);
        string swapped = graph.AddNode("Transpose", name + ".transpose", [split], [OnnxAttribute.Ints("perm", 0, 2, 1, 3)]);
        string shape = graph.AddInt64Initializer(name + ".shape", [4], [0, channels, size.Height, size.Width]);
        return graph.AddNode("Reshape", name, [swapped, shape]);
    }

    /// <summary>The spatial size a convolution gives from <paramref name="size"/>: (H + 2p − d(k − 1) − 1) / s + 1 per axis.</summary>
    public static (long Height, long Width) OutputSize((long Height, long Width) size, Conv2d conv)
    {
        long[] p = conv.padding!, k = conv.kernel_size, s = conv.stride, d = conv.dilation;
        return ((size.Height + 2 * p[0] - d[0] * (k[0] - 1) - 1) / s[0] + 1, (size.Width + 2 * p[1] - d[1] * (k[1] - 1) - 1) / s[1] + 1);
    }

    /// <summary>ReLU.</summary>
    public static string Relu(OnnxGraphBuilder graph, string input, string name) => graph.AddNode("Relu", name, [input]);

    /// <summary>
    /// ReLU6, <c>min(max(x, 0), 6)</c>, written as <c>Relu(x) − Relu(x − 6)</c>: OpenCV 4.6's importer takes Clip only in its
    /// opset-6 form (bounds as attributes) and refuses opset 13's bounds-as-inputs, and has no Min with a constant. The result is
    /// exact up to 6; above it, <c>x − (x − 6)</c> is 6 to within half an ulp of x.
    /// </summary>
    public static string Relu6(OnnxGraphBuilder graph, string input, string name)
    {
        string minusSix = graph.AddInitializer(name + ".minus_six", [], [-6f]);
        string positive = Relu(graph, input, name + ".relu");
        string shifted = graph.AddNode("Add", name + ".shift", [input, minusSix]);
        string excess = Relu(graph, shifted, name + ".excess");
        return graph.AddNode("Sub", name, [positive, excess]);
    }

    /// <summary>Element-wise sum (the residual connection).</summary>
    public static string Add(OnnxGraphBuilder graph, string left, string right, string name) => graph.AddNode("Add", name, [left, right]);

    /// <summary>Global average pooling [N, C, H, W] -> [N, C, 1, 1], flattened to [N, C] (adaptive_avg_pool2d(x, 1).flatten(1)).</summary>
    public static string GlobalAveragePoolFlat(OnnxGraphBuilder graph, string input, string name)
    {
        string pooled = graph.AddNode("GlobalAveragePool", name, [input]);
        return graph.AddNode("Flatten", name + ".flatten", [pooled], [OnnxAttribute.Int("axis", 1)]);
    }

    /// <summary>
    /// The children of a sequence (<see cref="TorchSharp.Modules.Sequential"/> or <see cref="FoldableSequential"/>) made of Conv2d
    /// (with the BatchNorm2d right after it folded in), BatchNorm2d, ReLU, ReLU6, MaxPool2d and nested sequences, in order. Child i
    /// is named <c>{name}.{i}</c> as in the state dict.
    /// </summary>
    public static string Sequential(OnnxGraphBuilder graph, string input, nn.Module sequential, string name)
    {
        var children = sequential.named_children().ToList();
        string x = input;
        for (int i = 0; i < children.Count; i++)
        {
            var (childName, child) = children[i];
            string path = name + "." + childName;
            switch (child)
            {
                case Conv2d conv:
                    var norm = i + 1 < children.Count ? children[i + 1].module as BatchNorm2d : null;
                    x = Convolution(graph, x, conv, norm, path);
                    if (norm is not null)
                    {
                        i++;
                    }

                    break;
                case BatchNorm2d norm2d:
                    x = BatchNormalization(graph, x, norm2d, path);
                    break;
                case ReLU6:
                    x = Relu6(graph, x, path);
                    break;
                case ReLU:
                    x = Relu(graph, x, path);
                    break;
                case FoldableSequential or TorchSharp.Modules.Sequential:
                    x = Sequential(graph, x, child, path);
                    break;
                case MaxPool2d pool:
                    x = MaxPool(graph, x, pool, path);
                    break;
                default:
                    throw new NotSupportedException($"'{path}': the ONNX writer does not know {child.GetType().Name} modules.");
            }
        }

        return x;
    }

    /// <summary>A tensor's values, row-major, as float64 (read from any device).</summary>
    private static double[] Values(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return tensor.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
    }

    private static float[] ToFloats(double[] values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = (float)values[i];
        }

        return result;
    }

    private static float[] Filled(long count, float value)
    {
        var result = new float[count];
        Array.Fill(result, value);
        return result;
    }

    private static long[] Pair(long[] values) => values.Length == 1 ? [values[0], values[0]] : [values[0], values[1]];
}
