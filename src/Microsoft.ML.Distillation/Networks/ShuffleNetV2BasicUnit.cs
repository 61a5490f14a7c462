// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The ShuffleNet V2 basic unit of the HSAKD / RepDistiller code: the channels are split in half; the first half passes
/// unchanged, the second goes through 1x1 conv + BN + ReLU, depthwise 3x3 + BN, 1x1 conv + BN + ReLU; the halves are
/// concatenated (untouched half first) and shuffled in 2 groups.
/// </summary>
/// <remarks>State-dict names: conv1..conv3, bn1..bn3.</remarks>
internal sealed class ShuffleNetV2BasicUnit : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms
{
    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn1")]
    private readonly BatchNorm2d _bn1;

    [ComponentName(Name = "conv2")]
    private readonly Conv2d _conv2;

    [ComponentName(Name = "bn2")]
    private readonly BatchNorm2d _bn2;

    [ComponentName(Name = "conv3")]
    private readonly Conv2d _conv3;

    [ComponentName(Name = "bn3")]
    private readonly BatchNorm2d _bn3;

    /// <param name="channels">Input and output width (even).</param>
    public ShuffleNetV2BasicUnit(int channels)
        : base(nameof(ShuffleNetV2BasicUnit))
    {
        if (channels % 2 != 0)
        {
            throw new ArgumentException("The width of a ShuffleNet V2 unit must be even.", nameof(channels));
        }

        var half = channels / 2;
        _conv1 = nn.Conv2d(half, half, kernel_size: 1, bias: false);
        _bn1 = nn.BatchNorm2d(half);
        _conv2 = nn.Conv2d(half, half, kernel_size: 3, padding: 1, groups: half, bias: false);
        _bn2 = nn.BatchNorm2d(half);
        _conv3 = nn.Conv2d(half, half, kernel_size: 1, bias: false);
        _bn3 = nn.BatchNorm2d(half);
        Channels = channels;
        RegisterComponents();
    }

    /// <summary>Input and output width.</summary>
    public int Channels { get; }

    /// <summary>The convs and their BNs in the order conv1..conv3 (read by the ONNX writer).</summary>
    internal IReadOnlyList<(Conv2d Convolution, BatchNorm2d Norm)> Layers => [(_conv1, _bn1), (_conv2, _bn2), (_conv3, _bn3)];

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => Layers;

    /// <summary>
    /// One stage: a <see cref="ShuffleNetV2DownUnit"/> <paramref name="inChannels"/> -> <paramref name="outChannels"/> with
    /// stride <paramref name="stride"/>, then <paramref name="basicUnits"/> basic units. Children are named 0..n.
    /// </summary>
    public static Sequential Stage(int inChannels, int outChannels, int basicUnits, int stride = 2)
    {
        var modules = new nn.Module<Tensor, Tensor>[basicUnits + 1];
        modules[0] = new ShuffleNetV2DownUnit(inChannels, outChannels, stride);
        for (var i = 1; i <= basicUnits; i++)
        {
            modules[i] = new ShuffleNetV2BasicUnit(outChannels);
        }

        return nn.Sequential(modules);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var half = Channels / 2;
        var kept = input.narrow(1, 0, half);
        var x = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input.narrow(1, half, half)));
        x = BatchNormFolding.ConvolutionThenNorm(_conv2, _bn2, x);
        x = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv3, _bn3, x));
        return ChannelShuffler.Shuffle(cat([kept, x], 1), 2).MoveToOuterDisposeScope();
    }
}
