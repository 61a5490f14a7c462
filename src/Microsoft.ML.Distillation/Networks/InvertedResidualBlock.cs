// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The MobileNetV2 inverted residual block as the HSAKD / RepDistiller code builds it: a 1x1 expansion conv to
/// <c>in * t</c> channels + BN + ReLU, a 3x3 depthwise conv (stride s) + BN + ReLU, and a linear 1x1 projection conv + BN.
/// The input is added to the output only when the stride is 1 and the width does not change.
/// </summary>
/// <remarks>
/// Two details differ from torchvision's MobileNetV2 and follow the reference: the activation is ReLU (not ReLU6), and the
/// expansion conv is present even when t = 1. State-dict names: <c>conv.{0..7}</c> (conv, bn, relu, conv, bn, relu, conv, bn).
/// </remarks>
internal sealed class InvertedResidualBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv")]
    private readonly FoldableSequential _conv;

    /// <param name="inChannels">Input width.</param>
    /// <param name="outChannels">Output width.</param>
    /// <param name="stride">Stride of the depthwise conv: 1 or 2.</param>
    /// <param name="expansion">t: the hidden width is <paramref name="inChannels"/> * t.</param>
    public InvertedResidualBlock(int inChannels, int outChannels, int stride, int expansion)
        : base(nameof(InvertedResidualBlock))
    {
        if (stride is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "An inverted residual block has stride 1 or 2.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(expansion, 1);
        var hidden = inChannels * expansion;
        _conv = new FoldableSequential(
            nn.Conv2d(inChannels, hidden, kernel_size: 1, bias: false),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace: true),
            nn.Conv2d(hidden, hidden, kernel_size: 3, stride: stride, padding: 1, groups: hidden, bias: false),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace: true),
            nn.Conv2d(hidden, outChannels, kernel_size: 1, bias: false),
            nn.BatchNorm2d(outChannels));
        UsesResidual = stride == 1 && inChannels == outChannels;
        RegisterComponents();
    }

    /// <summary>True when the block adds its input to its output (stride 1 and equal widths).</summary>
    public bool UsesResidual { get; }

    /// <summary>The conv / BN / ReLU sequence (read by the ONNX writer).</summary>
    internal FoldableSequential Layers => _conv;

    /// <summary>
    /// One MobileNetV2 group <c>(t, c, n, s)</c>: <paramref name="blocks"/> blocks of width <paramref name="outChannels"/>,
    /// the first with stride <paramref name="stride"/>, the rest stride 1. Children are named 0..n-1.
    /// </summary>
    public static Sequential Group(int inChannels, int expansion, int outChannels, int blocks, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        var modules = new nn.Module<Tensor, Tensor>[blocks];
        for (var i = 0; i < blocks; i++)
        {
            modules[i] = new InvertedResidualBlock(i == 0 ? inChannels : outChannels, outChannels, i == 0 ? stride : 1, expansion);
        }

        return nn.Sequential(modules);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var output = _conv.call(input);
        if (UsesResidual)
        {
            output.add_(input);
        }

        return output.MoveToOuterDisposeScope();
    }
}
