// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Post-activation bottleneck residual block (expansion 4, stride on the 3x3 convolution, "ResNet v1.5"):
/// <c>ReLU(BN3(conv3(ReLU(BN2(conv2(ReLU(BN1(conv1(x)))))))) + shortcut(x))</c> with conv1 1x1 (C_in -> p),
/// conv2 3x3 stride s (p -> p), conv3 1x1 (p -> 4p), and a 1x1-conv + BN projection shortcut when the stride is not 1
/// or C_in differs from 4p.
/// </summary>
/// <remarks>
/// State-dict names follow the HSAKD CIFAR ResNet-50 reference (<c>models/resnetv2.py</c>): conv1..3, bn1..3 and
/// <c>shortcut.0</c> / <c>shortcut.1</c> for the projection (absent for the identity shortcut).
/// </remarks>
internal sealed class ResNetBottleneckBlock : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms, IResNetBlock<ResNetBottleneckBlock>
{
    /// <summary>Output channels per bottleneck width: the block produces 4p channels.</summary>
    public static int Expansion => 4;

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
    private readonly FoldableSequential? _shortcut;

    /// <param name="inChannels">C_in.</param>
    /// <param name="planes">p, the bottleneck width; the block outputs 4p channels.</param>
    /// <param name="stride">Stride of the 3x3 convolution (and of the projection).</param>
    public ResNetBottleneckBlock(int inChannels, int planes, int stride)
        : base(nameof(ResNetBottleneckBlock))
    {
        int outChannels = planes * Expansion;
        _conv1 = nn.Conv2d(inChannels, planes, kernel_size: 1, stride: 1, bias: false);
        _bn1 = nn.BatchNorm2d(planes);
        _conv2 = nn.Conv2d(planes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
        _bn2 = nn.BatchNorm2d(planes);
        _conv3 = nn.Conv2d(planes, outChannels, kernel_size: 1, stride: 1, bias: false);
        _bn3 = nn.BatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
        {
            _shortcut = new FoldableSequential(
                nn.Conv2d(inChannels, outChannels, kernel_size: 1, stride: stride, bias: false),
                nn.BatchNorm2d(outChannels));
        }

        RegisterComponents();
    }

    /// <summary>
    /// <c>S(4p, n, s)</c>: <paramref name="blocks"/> bottleneck blocks of width <paramref name="width"/> (4p channels out); the
    /// first has stride <paramref name="stride"/>, the rest stride 1. Children are named 0..n-1.
    /// </summary>
    public static Sequential Stage(int inChannels, int width, int blocks, int stride)
    {
        var modules = new nn.Module<Tensor, Tensor>[blocks];
        for (var i = 0; i < blocks; i++)
        {
            modules[i] = new ResNetBottleneckBlock(i == 0 ? inChannels : width * Expansion, width, i == 0 ? stride : 1);
        }

        return nn.Sequential(modules);
    }

    /// <summary>resnetv2's name: <c>shortcut</c>.</summary>
    public static string ProjectionName => "shortcut";

    /// <summary>conv1 (1x1) + bn1, conv2 (3x3, strided) + bn2, conv3 (1x1, expanding) + bn3.</summary>
    public IReadOnlyList<(Conv2d Convolution, BatchNorm2d Norm)> Body => [(_conv1, _bn1), (_conv2, _bn2), (_conv3, _bn3)];

    /// <inheritdoc/>
    public (Conv2d Convolution, BatchNorm2d Norm)? Projection
        => _shortcut is null ? null : ((Conv2d)_shortcut[0], (BatchNorm2d)_shortcut[1]);

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => Body;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var y = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input), inplace: true);
        y = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv2, _bn2, y), inplace: true);
        var output = BatchNormFolding.ConvolutionThenNorm(_conv3, _bn3, y);
        var shortcut = _shortcut is null ? input : _shortcut.call(input);
        output.add_(shortcut);
        return nn.functional.relu(output, inplace: true).MoveToOuterDisposeScope();
    }
}
