// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// torchvision's MobileNetV2 inverted residual block: a 1x1 expansion conv to <c>in * t</c> channels + BN + ReLU6 (left out when
/// t = 1), a 3x3 depthwise conv (stride s) + BN + ReLU6, and a linear 1x1 projection conv + BN. The input is added to the output
/// when the stride is 1 and the width does not change.
/// </summary>
/// <remarks>
/// State-dict names are torchvision's, so its checkpoints load as they are: with expansion, <c>conv.0.{0,1}</c> (expansion conv,
/// BN), <c>conv.1.{0,1}</c> (depthwise conv, BN), <c>conv.2</c> (projection conv), <c>conv.3</c> (BN); with t = 1,
/// <c>conv.0.{0,1}</c> (depthwise), <c>conv.1</c>, <c>conv.2</c>. The CIFAR block of the distillation papers is
/// <see cref="InvertedResidualBlock"/> (ReLU, always an expansion conv).
/// </remarks>
internal sealed class ImageNetInvertedResidualBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "conv")]
    private readonly FoldableSequential _conv;

    /// <param name="inChannels">Input width.</param>
    /// <param name="outChannels">Output width.</param>
    /// <param name="stride">Stride of the depthwise conv: 1 or 2.</param>
    /// <param name="expansion">t: the hidden width is <paramref name="inChannels"/> * t; 1 leaves the expansion conv out.</param>
    public ImageNetInvertedResidualBlock(int inChannels, int outChannels, int stride, int expansion)
        : base(nameof(ImageNetInvertedResidualBlock))
    {
        if (stride is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(stride), stride, "An inverted residual block has stride 1 or 2.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(expansion, 1);
        var hidden = inChannels * expansion;
        var layers = new List<nn.Module<Tensor, Tensor>>(4);
        if (expansion != 1)
        {
            layers.Add(ConvolutionUnit(inChannels, hidden, kernelSize: 1, stride: 1));
        }

        layers.Add(ConvolutionUnit(hidden, hidden, kernelSize: 3, stride: stride, groups: hidden));
        layers.Add(nn.Conv2d(hidden, outChannels, kernel_size: 1, bias: false));
        layers.Add(nn.BatchNorm2d(outChannels));
        _conv = new FoldableSequential([.. layers]);
        UsesResidual = stride == 1 && inChannels == outChannels;
        RegisterComponents();
    }

    /// <summary>True when the block adds its input to its output (stride 1 and equal widths).</summary>
    public bool UsesResidual { get; }

    /// <summary>The layers: one or two conv + BN + ReLU6 units, then the projection conv and its BN (read by the ONNX writer).</summary>
    internal FoldableSequential Layers => _conv;

    /// <summary>torchvision's <c>Conv2dNormActivation</c>: conv (no bias, padding (k-1)/2) + BN + ReLU6, children named 0, 1, 2.</summary>
    internal static FoldableSequential ConvolutionUnit(int inChannels, int outChannels, int kernelSize, int stride, int groups = 1)
        => new(
            nn.Conv2d(inChannels, outChannels, kernel_size: kernelSize, stride: stride, padding: (kernelSize - 1) / 2, groups: groups, bias: false),
            nn.BatchNorm2d(outChannels),
            nn.ReLU6(inplace: true));

    /// <summary>
    /// One group <c>(t, c, n, s)</c>: <paramref name="blocks"/> blocks of width <paramref name="outChannels"/>, the first with
    /// stride <paramref name="stride"/>, the rest stride 1.
    /// </summary>
    public static IEnumerable<ImageNetInvertedResidualBlock> Group(int inChannels, int expansion, int outChannels, int blocks, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        for (var i = 0; i < blocks; i++)
        {
            yield return new ImageNetInvertedResidualBlock(i == 0 ? inChannels : outChannels, outChannels, i == 0 ? stride : 1, expansion);
        }
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
