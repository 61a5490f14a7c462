// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// torchvision's <c>mobilenet_v2</c> (width 1.0): <c>features.0</c> a 3x3 stride-2 conv to 32 channels + BN + ReLU6,
/// <c>features.1</c>..<c>features.17</c> the seventeen <see cref="ImageNetInvertedResidualBlock"/>s of the seven groups,
/// <c>features.18</c> a 1x1 conv to 1280 + BN + ReLU6, global average pooling, and <c>classifier</c> = dropout (p = 0.2, index 0)
/// then the linear head (index 1). State-dict names and shapes are torchvision's.
/// </summary>
/// <remarks>
/// Taps: the outputs of groups 1, 2, 4 and 6 (0-based; <c>features.3</c>, <c>.6</c>, <c>.13</c>, <c>.17</c>): 24@56², 32@28²,
/// 96@14² and 320@7² for a 224x224 input. They end with a linear projection + BN (no activation).
/// </remarks>
internal sealed class ImageNetMobileNetV2Backbone : TappedBackbone
{
    [ComponentName(Name = "features")]
    private readonly ModuleList<nn.Module<Tensor, Tensor>> _features;

    [ComponentName(Name = "classifier")]
    private readonly Sequential _classifier;

    private readonly HashSet<int> _tapIndices;
    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="groups">The inverted residual groups (t, c, n, s).</param>
    /// <param name="tapGroups">Indices of the groups whose outputs are tapped, ascending.</param>
    /// <param name="stemChannels">Width of the stem conv.</param>
    /// <param name="lastChannels">Width of the final 1x1 conv, which feeds the head.</param>
    /// <param name="dropout">Dropout probability before the head (training only).</param>
    /// <param name="classCount">K.</param>
    public ImageNetMobileNetV2Backbone(
        int inputChannels,
        IReadOnlyList<(int Expansion, int Channels, int Blocks, int Stride)> groups,
        IReadOnlyList<int> tapGroups,
        int stemChannels,
        int lastChannels,
        double dropout,
        int classCount)
        : base(nameof(ImageNetMobileNetV2Backbone))
    {
        var features = new List<nn.Module<Tensor, Tensor>> { ImageNetInvertedResidualBlock.ConvolutionUnit(inputChannels, stemChannels, kernelSize: 3, stride: 2) };
        var channels = stemChannels;
        _tapIndices = [];
        for (var g = 0; g < groups.Count; g++)
        {
            var (expansion, width, blocks, stride) = groups[g];
            features.AddRange(ImageNetInvertedResidualBlock.Group(channels, expansion, width, blocks, stride));
            channels = width;
            if (tapGroups.Contains(g))
            {
                _tapIndices.Add(features.Count - 1);
            }
        }

        features.Add(ImageNetInvertedResidualBlock.ConvolutionUnit(channels, lastChannels, kernelSize: 1, stride: 1));
        _features = nn.ModuleList([.. features]);
        _classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(lastChannels, classCount));
        _tapChannels = [.. tapGroups.Select(g => groups[g].Channels)];
        EmbeddingSize = lastChannels;
        RegisterComponents();

        // torchvision: conv kaiming_normal_(fan_out), BN 1/0, Linear N(0, 0.01) with bias 0.
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
        NetworkInitialization.NormalLinears(this, std: 0.01);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize { get; }

    /// <summary><c>features</c> in forward order: the stem unit, the inverted residual blocks, the final 1x1 unit (read by the ONNX writer).</summary>
    internal IReadOnlyList<nn.Module<Tensor, Tensor>> Features => [.. _features];

    /// <summary>The main head (<c>classifier.1</c>).</summary>
    /// <remarks>Read from <c>classifier</c> each time: a field holding it would register the head a second time.</remarks>
    public override Linear Head => (Linear)_classifier.children().Last();

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = input;
        var taps = new List<Tensor>(_tapIndices.Count);
        for (var i = 0; i < _features.Count; i++)
        {
            x = _features[i].call(x);
            if (_tapIndices.Contains(i))
            {
                taps.Add(x);
            }
        }

        var embedding = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        var logits = _classifier.call(embedding);
        return new BackboneOutput(logits, embedding, taps, x).MoveToOuterDisposeScope();
    }
}
