// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The ShuffleNet (V1) unit of the HSAKD / RepDistiller code. The conv branch is a grouped 1x1 conv to mid = out/4 channels
/// + BN + ReLU, a channel shuffle, a 3x3 depthwise conv (stride s) + BN + ReLU and a grouped 1x1 conv (g groups) to
/// <c>out</c> channels + BN. A stride-2 unit concatenates AvgPool(3, stride 2, padding 1)(x) after the branch (so it produces
/// <c>out + in</c> channels); a stride-1 unit adds x. Both end with ReLU.
/// </summary>
/// <remarks>
/// The average pool counts the zero padding in its divisor (PyTorch's <c>count_include_pad=True</c> default).
/// State-dict names: conv1, bn1, conv2, bn2, conv3, bn3 (the pool has no parameters).
/// </remarks>
internal sealed class ShuffleNetV1Unit : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms
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

    [ComponentName(Name = "shortcut")]
    private readonly AvgPool2d? _shortcut;

    /// <param name="inChannels">Input width.</param>
    /// <param name="branchChannels">Output width of the conv branch (for a stride-2 unit: the unit's output width minus <paramref name="inChannels"/>).</param>
    /// <param name="stride">1 (additive unit, <paramref name="branchChannels"/> must equal <paramref name="inChannels"/>) or 2 (concatenating unit).</param>
    /// <param name="groups">g: groups of the 1x1 convs.</param>
    /// <param name="firstConvolutionGroups">Groups of the first 1x1 conv and of the shuffle after it: g, or 1 where the input is the narrow stem.</param>
    public ShuffleNetV1Unit(int inChannels, int branchChannels, int stride, int groups, int firstConvolutionGroups)
        : base(nameof(ShuffleNetV1Unit))
    {
        if (stride is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "A ShuffleNet unit has stride 1 or 2.");
        }

        if (stride == 1 && branchChannels != inChannels)
        {
            throw new ArgumentException("A stride-1 ShuffleNet unit adds its input, so it keeps the width.", nameof(branchChannels));
        }

        var mid = branchChannels / 4;
        _conv1 = nn.Conv2d(inChannels, mid, kernel_size: 1, groups: firstConvolutionGroups, bias: false);
        _bn1 = nn.BatchNorm2d(mid);
        _conv2 = nn.Conv2d(mid, mid, kernel_size: 3, stride: stride, padding: 1, groups: mid, bias: false);
        _bn2 = nn.BatchNorm2d(mid);
        _conv3 = nn.Conv2d(mid, branchChannels, kernel_size: 1, groups: groups, bias: false);
        _bn3 = nn.BatchNorm2d(branchChannels);
        if (stride == 2)
        {
            _shortcut = nn.AvgPool2d(kernel_size: 3, stride: 2, padding: 1, count_include_pad: true);
        }

        ShuffleGroups = firstConvolutionGroups;
        RegisterComponents();
    }

    /// <summary>Groups of the channel shuffle after the first conv.</summary>
    public int ShuffleGroups { get; }

    /// <summary>The grouped 1x1 conv and its BN (read by the ONNX writer).</summary>
    internal (Conv2d Convolution, BatchNorm2d Norm) Reduce => (_conv1, _bn1);

    /// <summary>The depthwise 3x3 conv and its BN.</summary>
    internal (Conv2d Convolution, BatchNorm2d Norm) Depthwise => (_conv2, _bn2);

    /// <summary>The grouped 1x1 conv back to the branch width and its BN.</summary>
    internal (Conv2d Convolution, BatchNorm2d Norm) Expand => (_conv3, _bn3);

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => [Reduce, Depthwise, Expand];

    /// <summary>The average pool of a stride-2 unit, whose output is concatenated; null for the additive stride-1 unit.</summary>
    internal AvgPool2d? Pool => _shortcut;

    /// <summary>
    /// One stage: <paramref name="units"/> units ending at <paramref name="outChannels"/>. When <paramref name="downsample"/> is true the
    /// first unit has stride 2 and concatenates the pooled input; otherwise every unit is additive with stride 1 (then
    /// <paramref name="inChannels"/> must equal <paramref name="outChannels"/>). As in the reference, a unit whose input is
    /// <see cref="ShuffleNetV1.StemChannels"/> wide (the stem) uses an ungrouped first conv and no shuffle. Children are named 0..n-1.
    /// </summary>
    public static Sequential Stage(int inChannels, int outChannels, int units, int groups, bool downsample = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(units, 1);
        var modules = new nn.Module<Tensor, Tensor>[units];
        var channels = inChannels;
        for (var i = 0; i < units; i++)
        {
            var firstGroups = channels == ShuffleNetV1.StemChannels ? 1 : groups;
            modules[i] = i == 0 && downsample
                ? new ShuffleNetV1Unit(channels, outChannels - channels, stride: 2, groups, firstGroups)
                : new ShuffleNetV1Unit(channels, outChannels, stride: 1, groups, firstGroups);
            channels = outChannels;
        }

        return nn.Sequential(modules);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input));
        x = ChannelShuffler.Shuffle(x, ShuffleGroups);
        x = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv2, _bn2, x));
        x = BatchNormFolding.ConvolutionThenNorm(_conv3, _bn3, x);
        x = _shortcut is null ? x.add_(input) : cat([x, _shortcut.call(input)], 1);
        return x.relu_().MoveToOuterDisposeScope();
    }
}
