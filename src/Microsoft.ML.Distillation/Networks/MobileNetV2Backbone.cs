// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// MobileNetV2 (Sandler et al. 2018) in the CIFAR layout of the HSAKD / RepDistiller code: a 3x3 stem conv + BN + ReLU,
/// seven groups of <see cref="InvertedResidualBlock"/>s, a 1x1 conv to 1280 channels + BN + ReLU, global average pooling
/// and a linear head. Taps: the outputs of groups 1, 2, 4 and 6 (0-based), which end with a linear projection + BN
/// (no ReLU).
/// </summary>
/// <remarks>
/// The stem stride is a parameter: HSAKD's network uses stride 1 (taps at full, 1/2, 1/4 and 1/8 resolution), the CRD / SSKD
/// "mobile_half" stride 2 (every feature map half as large). State-dict names follow the PyTorch reference:
/// <c>conv1.{0,1}</c>, <c>blocks.{g}.{i}.conv.{j}</c>, <c>conv2.{0,1}</c>, <c>classifier</c>. The reference pools with a
/// fixed-size window tuned to 32-pixel inputs; this backbone pools globally, which is the same there and works at any size.
/// </remarks>
internal sealed class MobileNetV2Backbone : TappedBackbone
{
    /// <summary>Indices of the groups whose outputs are tapped.</summary>
    private static readonly int[] s_tapGroups = [1, 2, 4, 6];

    [ComponentName(Name = "conv1")]
    private readonly FoldableSequential _conv1;

    [ComponentName(Name = "blocks")]
    private readonly ModuleList<Sequential> _blocks;

    [ComponentName(Name = "conv2")]
    private readonly FoldableSequential _conv2;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="stemStride">Stride of the stem conv: 1 (HSAKD) or 2 (CRD / SSKD "mobile_half").</param>
    /// <param name="stemChannels">Width of the stem conv.</param>
    /// <param name="groups">The inverted residual groups (t, c, n, s), c already scaled by the width multiplier.</param>
    /// <param name="lastChannels">Width of the final 1x1 conv, which feeds the head.</param>
    /// <param name="classCount">K.</param>
    public MobileNetV2Backbone(
        int inputChannels,
        int stemStride,
        int stemChannels,
        IReadOnlyList<(int Expansion, int Channels, int Blocks, int Stride)> groups,
        int lastChannels,
        int classCount)
        : base(nameof(MobileNetV2Backbone))
    {
        if (groups.Count <= s_tapGroups[^1])
        {
            throw new ArgumentException($"MobileNetV2 needs at least {s_tapGroups[^1] + 1} groups.", nameof(groups));
        }

        _conv1 = MobileNetV2.ConvolutionUnit(inputChannels, stemChannels, kernelSize: 3, stride: stemStride);
        var sequences = new Sequential[groups.Count];
        var channels = stemChannels;
        for (var g = 0; g < groups.Count; g++)
        {
            var (expansion, width, blocks, stride) = groups[g];
            sequences[g] = InvertedResidualBlock.Group(channels, expansion, width, blocks, stride);
            channels = width;
        }

        _blocks = nn.ModuleList(sequences);
        _conv2 = MobileNetV2.ConvolutionUnit(channels, lastChannels, kernelSize: 1, stride: 1);
        _classifier = nn.Linear(lastChannels, classCount);
        _tapChannels = [.. s_tapGroups.Select(g => groups[g].Channels)];
        EmbeddingSize = lastChannels;
        StemStride = stemStride;
        RegisterComponents();

        // Reference: conv N(0, sqrt(2/(k*k*C_out))), BN 1/0, Linear N(0, 0.01) with bias 0.
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
        NetworkInitialization.NormalLinears(this, std: 0.01);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize { get; }

    /// <summary>Stride of the stem conv (1 or 2).</summary>
    public int StemStride { get; }

    /// <summary>The stem: conv, BN, ReLU (read by the ONNX writer).</summary>
    internal FoldableSequential Stem => _conv1;

    /// <summary>The inverted residual groups, each with its blocks in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<InvertedResidualBlock>> Groups
        => [.. _blocks.Select(group => (IReadOnlyList<InvertedResidualBlock>)[.. group.children().Cast<InvertedResidualBlock>()])];

    /// <summary>The final 1x1 conv, BN, ReLU.</summary>
    internal FoldableSequential Last => _conv2;

    /// <summary>The main head.</summary>
    public override Linear Head => _classifier;

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = _conv1.call(input);
        var taps = new List<Tensor>(s_tapGroups.Length);
        for (var g = 0; g < _blocks.Count; g++)
        {
            x = _blocks[g].call(x);
            if (s_tapGroups.Contains(g))
            {
                taps.Add(x);
            }
        }

        var last = _conv2.call(x);
        var embedding = nn.functional.adaptive_avg_pool2d(last, 1).flatten(1);
        var logits = _classifier.call(embedding);
        return new BackboneOutput(logits, embedding, taps, last).MoveToOuterDisposeScope();
    }
}
