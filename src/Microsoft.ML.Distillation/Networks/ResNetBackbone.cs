// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The stem of a <see cref="ResNetBackbone{TBlock}"/>: a k x k convolution (padding k/2, no bias) + BN + ReLU, optionally
/// followed by 3x3 stride-2 max pooling (padding 1).
/// </summary>
/// <param name="Width">Output channels of the stem convolution.</param>
/// <param name="KernelSize">k.</param>
/// <param name="Stride">Stride of the stem convolution.</param>
/// <param name="MaxPool">Whether the 3x3 stride-2 max pooling follows.</param>
internal sealed record ResNetStem(int Width, int KernelSize, int Stride, bool MaxPool)
{
    /// <summary>The CIFAR stem: 3x3 stride-1 convolution at full resolution, no pooling.</summary>
    public static ResNetStem Cifar(int width) => new(width, KernelSize: 3, Stride: 1, MaxPool: false);

    /// <summary>The torchvision ImageNet stem: 7x7 stride-2 convolution of 64 channels and max pooling (224 -> 56).</summary>
    public static ResNetStem ImageNet { get; } = new(64, KernelSize: 7, Stride: 2, MaxPool: true);
}

/// <summary>
/// A ResNet backbone: <see cref="ResNetStem"/>, then stages <c>layer1..layerN</c> of <typeparamref name="TBlock"/> blocks
/// (strides 1, 2, 2, ...), global average pooling and a linear head. Taps: the outputs of every stage (post-ReLU).
/// The CIFAR basic-block ResNets (3 stages), the CIFAR bottleneck ResNet-50 and the ImageNet ResNet-18/34 (4 stages) are all
/// this class with different stems, blocks and widths.
/// </summary>
/// <remarks>
/// State-dict names follow the PyTorch references: conv1, bn1, [maxpool,] layer{1..N}.{i}.…, and the head under the name the
/// reference uses (<c>fc</c> for torchvision and the CIFAR ResNets, <c>linear</c> for HSAKD's resnetv2). Initialisation as in
/// the references: convolutions Kaiming normal (fan_out, relu), BN 1/0, the head at the PyTorch default.
/// </remarks>
/// <typeparam name="TBlock">The residual block of the stages.</typeparam>
internal sealed class ResNetBackbone<TBlock> : TappedBackbone, IFoldableConvolutionNorms
    where TBlock : nn.Module<Tensor, Tensor>, IResNetBlock<TBlock>
{
    // No Module-typed fields: TorchSharp would register those a second time under their field names. The layers are
    // registered explicitly, under the reference names.
    private readonly (Conv2d Convolution, BatchNorm2d Norm, MaxPool2d? Pool) _stem;
    private readonly Sequential[] _stages;
    private readonly (Linear Layer, string Name) _head;
    private readonly int[] _tapChannels;

    /// <param name="name">Module name.</param>
    /// <param name="inputChannels">Image channels.</param>
    /// <param name="stem">The stem.</param>
    /// <param name="widths">Block width p of each stage (each stage outputs p · Expansion channels).</param>
    /// <param name="blocksPerStage">Blocks of each stage, as many as <paramref name="widths"/>, each at least 1.</param>
    /// <param name="headName">State-dict name of the linear head.</param>
    /// <param name="classCount">K.</param>
    public ResNetBackbone(
        string name, int inputChannels, ResNetStem stem, IReadOnlyList<int> widths, IReadOnlyList<int> blocksPerStage, string headName, int classCount)
        : base(name)
    {
        if (widths.Count == 0 || blocksPerStage.Count != widths.Count || blocksPerStage.Any(n => n < 1))
        {
            throw new ArgumentException($"Give {widths.Count} stage depths, each at least 1.", nameof(blocksPerStage));
        }

        // Construction order is registration order and draws the PyTorch default initialisation in that order.
        var conv1 = nn.Conv2d(inputChannels, stem.Width, kernel_size: stem.KernelSize, stride: stem.Stride, padding: stem.KernelSize / 2, bias: false);
        var bn1 = nn.BatchNorm2d(stem.Width);
        var maxpool = stem.MaxPool ? nn.MaxPool2d(kernel_size: 3, stride: 2, padding: 1) : null;
        _stem = (conv1, bn1, maxpool);
        register_module("conv1", conv1);
        register_module("bn1", bn1);
        if (maxpool is not null)
        {
            register_module("maxpool", maxpool);
        }

        _stages = new Sequential[widths.Count];
        _tapChannels = new int[widths.Count];
        int channels = stem.Width;
        for (int s = 0; s < widths.Count; s++)
        {
            _stages[s] = TBlock.Stage(channels, widths[s], blocksPerStage[s], stride: s == 0 ? 1 : 2);
            channels = _tapChannels[s] = widths[s] * TBlock.Expansion;
            register_module("layer" + (s + 1).ToString(CultureInfo.InvariantCulture), _stages[s]);
        }

        _head = (nn.Linear(channels, classCount), headName);
        register_module(headName, _head.Layer);

        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize => _tapChannels[^1];

    /// <summary>The stem convolution (read by the ONNX writer).</summary>
    internal Conv2d StemConvolution => _stem.Convolution;

    /// <summary>The stem batch norm.</summary>
    internal BatchNorm2d StemNorm => _stem.Norm;

    /// <summary>The stem max pooling, or null when the stem has none.</summary>
    internal MaxPool2d? StemPool => _stem.Pool;

    /// <summary>The stages (layer1..layerN), each with its blocks in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<TBlock>> Stages
        => [.. _stages.Select(stage => (IReadOnlyList<TBlock>)[.. stage.children().Cast<TBlock>()])];

    /// <summary>The main head.</summary>
    public override Linear Head => _head.Layer;

    /// <summary>The head's state-dict name (<c>fc</c> or <c>linear</c>).</summary>
    internal string HeadName => _head.Name;

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => [(_stem.Convolution, _stem.Norm)];

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_stem.Convolution, _stem.Norm, input), inplace: true);
        if (_stem.Pool is { } pool)
        {
            x = pool.call(x);
        }

        var taps = new Tensor[_stages.Length];
        for (int s = 0; s < _stages.Length; s++)
        {
            x = taps[s] = _stages[s].call(x);
        }

        var embedding = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        var logits = _head.Layer.call(embedding);
        return new BackboneOutput(logits, embedding, taps, taps[^1]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The HSAKD auxiliary branches of this layout, one per tap: the branch on tap i stacks fresh copies of the later stages
    /// i+1..N (stride 2 each), <c>S(p_{i+1}, n_{i+1}, 2) -> ... -> S(p_N, n_N, 2)</c>; the branch on the last tap is one
    /// stride-1 stage <c>S(p_N, n_N, 1)</c>. Each ends in GAP and Linear(p_N · Expansion -> <paramref name="outputCount"/>).
    /// Convolutions are Kaiming normal (fan_out) and BN 1/0; the linear heads keep the PyTorch default unless
    /// <paramref name="zeroHeadBiases"/>.
    /// </summary>
    public static AuxiliaryClassifier CreateAuxiliaryBranches(
        IReadOnlyList<int> widths, IReadOnlyList<int> blocksPerStage, int outputCount, bool zeroHeadBiases)
    {
        int stages = widths.Count;
        int Channels(int s) => widths[s] * TBlock.Expansion;
        var extractors = new nn.Module<Tensor, Tensor>[stages];
        for (int tap = 0; tap < stages - 1; tap++)
        {
            var chain = new nn.Module<Tensor, Tensor>[stages - 1 - tap];
            for (int s = tap + 1; s < stages; s++)
            {
                chain[s - tap - 1] = TBlock.Stage(Channels(s - 1), widths[s], blocksPerStage[s], stride: 2);
            }

            extractors[tap] = nn.Sequential(chain);
        }

        extractors[^1] = nn.Sequential(TBlock.Stage(Channels(stages - 1), widths[^1], blocksPerStage[^1], stride: 1));
        var auxiliary = new AuxiliaryClassifier(
            "ResNetAuxiliaryClassifier", extractors, norms: null, featureSize: Channels(stages - 1), outputCount: outputCount);

        NetworkInitialization.KaimingNormalConvolutions(auxiliary);
        NetworkInitialization.ResetBatchNorms(auxiliary);
        if (zeroHeadBiases)
        {
            NetworkInitialization.ZeroLinearBiases(auxiliary);
        }

        return auxiliary;
    }
}
