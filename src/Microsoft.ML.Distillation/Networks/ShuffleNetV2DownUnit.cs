// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The ShuffleNet V2 down-sampling unit of the HSAKD / RepDistiller code: two branches of out/2 channels each, concatenated
/// (left first) and shuffled in 2 groups. Left: depthwise 3x3 (stride s) + BN, 1x1 conv + BN + ReLU. Right: 1x1 conv + BN +
/// ReLU, depthwise 3x3 (stride s) + BN, 1x1 conv + BN + ReLU.
/// </summary>
/// <remarks>
/// The HSAKD auxiliary branch on the last tap uses this unit with stride 1 (464 -> 464). State-dict names: conv1..conv5, bn1..bn5.
/// </remarks>
internal sealed class ShuffleNetV2DownUnit : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms
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

    [ComponentName(Name = "conv4")]
    private readonly Conv2d _conv4;

    [ComponentName(Name = "bn4")]
    private readonly BatchNorm2d _bn4;

    [ComponentName(Name = "conv5")]
    private readonly Conv2d _conv5;

    [ComponentName(Name = "bn5")]
    private readonly BatchNorm2d _bn5;

    /// <param name="inChannels">Input width.</param>
    /// <param name="outChannels">Output width (even): each branch produces half of it.</param>
    /// <param name="stride">Stride of both depthwise convs: 2, or 1 in HSAKD's last auxiliary branch.</param>
    public ShuffleNetV2DownUnit(int inChannels, int outChannels, int stride)
        : base(nameof(ShuffleNetV2DownUnit))
    {
        if (outChannels % 2 != 0)
        {
            throw new ArgumentException("The output width of a ShuffleNet V2 unit must be even.", nameof(outChannels));
        }

        var mid = outChannels / 2;
        _conv1 = nn.Conv2d(inChannels, inChannels, kernel_size: 3, stride: stride, padding: 1, groups: inChannels, bias: false);
        _bn1 = nn.BatchNorm2d(inChannels);
        _conv2 = nn.Conv2d(inChannels, mid, kernel_size: 1, bias: false);
        _bn2 = nn.BatchNorm2d(mid);
        _conv3 = nn.Conv2d(inChannels, mid, kernel_size: 1, bias: false);
        _bn3 = nn.BatchNorm2d(mid);
        _conv4 = nn.Conv2d(mid, mid, kernel_size: 3, stride: stride, padding: 1, groups: mid, bias: false);
        _bn4 = nn.BatchNorm2d(mid);
        _conv5 = nn.Conv2d(mid, mid, kernel_size: 1, bias: false);
        _bn5 = nn.BatchNorm2d(mid);
        RegisterComponents();
    }

    /// <summary>The convs and their BNs in the order conv1..conv5 (read by the ONNX writer).</summary>
    internal IReadOnlyList<(Conv2d Convolution, BatchNorm2d Norm)> Layers
        => [(_conv1, _bn1), (_conv2, _bn2), (_conv3, _bn3), (_conv4, _bn4), (_conv5, _bn5)];

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => Layers;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var left = BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input);
        left = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv2, _bn2, left));
        var right = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv3, _bn3, input));
        right = BatchNormFolding.ConvolutionThenNorm(_conv4, _bn4, right);
        right = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv5, _bn5, right));
        return ChannelShuffler.Shuffle(cat([left, right], 1), 2).MoveToOuterDisposeScope();
    }
}
