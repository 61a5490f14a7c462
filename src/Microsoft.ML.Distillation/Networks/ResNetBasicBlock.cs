// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Post-activation residual block of the CIFAR ResNets: <c>ReLU(BN2(conv2(ReLU(BN1(conv1(x))))) + shortcut(x))</c>,
/// with a 1x1-conv + BN projection shortcut (<c>downsample</c>) when the stride or the width changes.
/// </summary>
internal sealed class ResNetBasicBlock : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms, IResNetBlock<ResNetBasicBlock>
{
    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn1")]
    private readonly BatchNorm2d _bn1;

    [ComponentName(Name = "conv2")]
    private readonly Conv2d _conv2;

    [ComponentName(Name = "bn2")]
    private readonly BatchNorm2d _bn2;

    [ComponentName(Name = "downsample")]
    private readonly FoldableSequential? _downsample;

    public ResNetBasicBlock(int inChannels, int outChannels, int stride)
        : base(nameof(ResNetBasicBlock))
    {
        _conv1 = nn.Conv2d(inChannels, outChannels, kernel_size: 3, stride: stride, padding: 1, bias: false);
        _bn1 = nn.BatchNorm2d(outChannels);
        _conv2 = nn.Conv2d(outChannels, outChannels, kernel_size: 3, stride: 1, padding: 1, bias: false);
        _bn2 = nn.BatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
        {
            _downsample = new FoldableSequential(
                nn.Conv2d(inChannels, outChannels, kernel_size: 1, stride: stride, bias: false),
                nn.BatchNorm2d(outChannels));
        }

        RegisterComponents();
    }

    /// <summary>A basic block outputs its width: 1.</summary>
    public static int Expansion => 1;

    /// <summary>
    /// <c>S(c, n, s)</c>: <paramref name="blocks"/> blocks of width <paramref name="width"/>; the first has stride
    /// <paramref name="stride"/>, the rest stride 1. Children are named 0..n-1.
    /// </summary>
    public static Sequential Stage(int inChannels, int width, int blocks, int stride)
    {
        var modules = new nn.Module<Tensor, Tensor>[blocks];
        for (var i = 0; i < blocks; i++)
        {
            modules[i] = i == 0
                ? new ResNetBasicBlock(inChannels, width, stride)
                : new ResNetBasicBlock(width, width, 1);
        }

        return nn.Sequential(modules);
    }

    /// <summary>torchvision's name: <c>downsample</c>.</summary>
    public static string ProjectionName => "downsample";

    /// <summary>conv1 + bn1, then conv2 + bn2.</summary>
    public IReadOnlyList<(Conv2d Convolution, BatchNorm2d Norm)> Body => [(_conv1, _bn1), (_conv2, _bn2)];

    /// <inheritdoc/>
    public (Conv2d Convolution, BatchNorm2d Norm)? Projection
        => _downsample is null ? null : ((Conv2d)_downsample[0], (BatchNorm2d)_downsample[1]);

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => Body;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input), inplace: true);
        var output = BatchNormFolding.ConvolutionThenNorm(_conv2, _bn2, hidden);
        var shortcut = _downsample is null ? input : _downsample.call(input);
        output.add_(shortcut);
        return nn.functional.relu(output, inplace: true).MoveToOuterDisposeScope();
    }
}
