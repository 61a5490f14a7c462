// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Pre-activation wide residual block: <c>a = ReLU(BN1(x))</c>, <c>out = conv2(ReLU(BN2(conv1(a))))</c>, plus the
/// shortcut: the raw <c>x</c> when the width is unchanged, otherwise a 1x1 strided conv applied to <c>a</c>
/// (not to <c>x</c>), as in the reference code. Dropout is 0 and therefore absent.
/// </summary>
internal sealed class WideResNetBlock : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms
{
    [ComponentName(Name = "bn1")]
    private readonly BatchNorm2d _bn1;

    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn2")]
    private readonly BatchNorm2d _bn2;

    [ComponentName(Name = "conv2")]
    private readonly Conv2d _conv2;

    [ComponentName(Name = "convShortcut")]
    private readonly Conv2d? _convShortcut;

    public WideResNetBlock(int inChannels, int outChannels, int stride)
        : base(nameof(WideResNetBlock))
    {
        _bn1 = nn.BatchNorm2d(inChannels);
        _conv1 = nn.Conv2d(inChannels, outChannels, kernel_size: 3, stride: stride, padding: 1, bias: false);
        _bn2 = nn.BatchNorm2d(outChannels);
        _conv2 = nn.Conv2d(outChannels, outChannels, kernel_size: 3, stride: 1, padding: 1, bias: false);

        // As in the reference, only a width change gives a projection; equal widths use the identity (the reference
        // never builds a strided block with equal widths).
        if (inChannels != outChannels)
        {
            _convShortcut = nn.Conv2d(inChannels, outChannels, kernel_size: 1, stride: stride, bias: false);
        }
        else if (stride != 1)
        {
            throw new ArgumentException("A wide residual block with equal widths must have stride 1.", nameof(stride));
        }

        RegisterComponents();
    }

    /// <summary>The pre-activation batch norm (read by the ONNX writer).</summary>
    internal BatchNorm2d PreActivationNorm => _bn1;

    /// <summary>conv1 and the batch norm that follows it (bn2).</summary>
    internal (Conv2d Convolution, BatchNorm2d Norm) First => (_conv1, _bn2);

    /// <summary>conv2 (no batch norm follows it inside the block).</summary>
    internal Conv2d Second => _conv2;

    /// <summary>The 1x1 projection applied to ReLU(bn1(x)), or null for the identity shortcut on x.</summary>
    internal Conv2d? Projection => _convShortcut;

    /// <summary>conv1 → bn2 is the one foldable pair; bn1 reads the block input (a residual sum) and stays a batch norm.</summary>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => [(_conv1, _bn2)];

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var activated = nn.functional.relu(_bn1.call(input), inplace: true);
        var hidden = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn2, activated), inplace: true);
        var output = _conv2.call(hidden);
        var shortcut = _convShortcut is null ? input : _convShortcut.call(activated);
        output.add_(shortcut);
        return output.MoveToOuterDisposeScope();
    }
}
