// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Online;

/// <summary>
/// FFL's fusion module (distillers-more.md §1.1, as in <c>Jangho-Kim/FFL-pytorch</c>): the maps the peers' heads pool, concatenated
/// (ΣC channels) → depthwise 3x3 convolution (no bias) → BN → ReLU → 1x1 convolution ΣC → ΣC/M (no bias) → BN → ReLU → global average
/// pooling → Linear(ΣC/M, K): the fused classifier. Convolutions N(0, √(2/(k·k·C_out))), BN γ = 1, β = 0.
/// With <see cref="UsesMfefBlocks"/>, each peer's map first passes MFEF's multi-scale extraction and dual attention
/// (<see cref="MultiScaleBlock"/>, <see cref="DualAttentionBlock"/>): our reconstruction from the MFEF abstract, not the authors' design.
/// </summary>
internal sealed class FeatureFusionModule : nn.Module<IReadOnlyList<Tensor>, Tensor>
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> mfef;
    private readonly Sequential fuse;
    private readonly Linear classifier;

    public FeatureFusionModule(IReadOnlyList<long> channels, int classCount, bool mfefBlocks)
        : base(nameof(FeatureFusionModule))
    {
        long total = channels.Sum();
        long width = Math.Max(1, total / channels.Count);
        UsesMfefBlocks = mfefBlocks;
        mfef = new ModuleList<nn.Module<Tensor, Tensor>>(mfefBlocks
            ? channels.Select(c => (nn.Module<Tensor, Tensor>)nn.Sequential(("multiscale", new MultiScaleBlock(c)), ("attention", new DualAttentionBlock(c)))).ToArray()
            : []);
        fuse = nn.Sequential(
            ("depthwise", nn.Conv2d(total, total, 3, padding: 1, groups: total, bias: false)),
            ("bn1", nn.BatchNorm2d(total)),
            ("relu1", nn.ReLU()),
            ("pointwise", nn.Conv2d(total, width, 1, bias: false)),
            ("bn2", nn.BatchNorm2d(width)),
            ("relu2", nn.ReLU()));
        classifier = nn.Linear(width, classCount);
        RegisterComponents();
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
    }

    /// <summary>Whether MFEF's reconstructed blocks process each peer's map before the fusion.</summary>
    public bool UsesMfefBlocks { get; }

    /// <summary>The fused logits [B, K] from the peers' maps (each [B, C_m, H, W], the same H x W).</summary>
    public override Tensor forward(IReadOnlyList<Tensor> maps)
    {
        using var scope = NewDisposeScope();
        var inputs = UsesMfefBlocks ? maps.Select((m, i) => mfef[i].call(m)).ToArray() : maps.ToArray();
        var fused = fuse.call(cat(inputs, 1));
        return classifier.call(fused.mean([2, 3])).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// MFEF's "divide-and-concatenate in the channel dimension" multi-scale extraction, read as a Res2Net block (our reconstruction):
/// the channels split into 4 groups x_1..x_4 (when C is divisible by 4, else the block passes the map through); y_1 = x_1,
/// y_i = ReLU(BN(conv3x3(x_i + y_{i−1}))) for i ≥ 2; the y_i concatenated.
/// </summary>
internal sealed class MultiScaleBlock : nn.Module<Tensor, Tensor>
{
    private const int Scales = 4;
    private readonly ModuleList<Sequential> convs;

    public MultiScaleBlock(long channels)
        : base(nameof(MultiScaleBlock))
    {
        long group = channels / Scales;
        Splits = channels % Scales == 0 && group > 0;
        convs = new ModuleList<Sequential>(Splits
            ? Enumerable.Range(1, Scales - 1).Select(_ => nn.Sequential(
                ("conv", nn.Conv2d(group, group, 3, padding: 1, bias: false)), ("bn", nn.BatchNorm2d(group)), ("relu", nn.ReLU()))).ToArray()
            : []);
        RegisterComponents();
    }

    /// <summary>False when the channels do not divide into the 4 scales: the map passes unchanged.</summary>
    public bool Splits { get; }

    public override Tensor forward(Tensor input)
    {
        if (!Splits)
            return input.alias();
        using var scope = NewDisposeScope();
        var parts = input.chunk(Scales, 1);
        var outputs = new Tensor[Scales];
        outputs[0] = parts[0];
        for (int i = 1; i < Scales; i++)
            outputs[i] = convs[i - 1].call(parts[i] + outputs[i - 1]);
        return cat(outputs, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// MFEF's dual attention, read as CBAM (our reconstruction): channel weights σ(MLP(avgpool F) + MLP(maxpool F)), the MLP
/// C → max(1, C/16) → C without biases, then spatial weights σ(conv7x7([mean_c F; max_c F])); each multiplies the map in turn.
/// </summary>
internal sealed class DualAttentionBlock : nn.Module<Tensor, Tensor>
{
    private readonly Sequential mlp;
    private readonly Conv2d spatial;

    public DualAttentionBlock(long channels)
        : base(nameof(DualAttentionBlock))
    {
        long hidden = Math.Max(1, channels / 16);
        mlp = nn.Sequential(("fc1", nn.Linear(channels, hidden, hasBias: false)), ("relu", nn.ReLU()), ("fc2", nn.Linear(hidden, channels, hasBias: false)));
        spatial = nn.Conv2d(2, 1, 7, padding: 3, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var channelWeights = (mlp.call(input.mean([2, 3])) + mlp.call(input.amax([2, 3]))).sigmoid();
        var x = input * channelWeights.unsqueeze(-1).unsqueeze(-1);
        var pooled = cat([x.mean([1], keepdim: true), x.amax([1], keepdim: true)], 1);
        return (x * SpatialLogits(pooled).sigmoid()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The 7x7 convolution of the pooled [B, 2, H, W] maps to [B, 1, H, W], written as im2col and a matrix product. oneDNN's
    /// direct-convolution backward pass for so few output channels (2 → 1; also 2 → 2 and 16 → 8 with 3x3 kernels) sometimes returns
    /// a NaN input gradient (about 1 call in 4 on AMD Zen 5 with libtorch 2.10, both AVX-512 and AVX2 kernels, never the same calls
    /// twice; larger convolutions and 1x1 or depthwise ones were not affected), which poisoned the peers' next step. The product
    /// computes the same function with the same <c>spatial.weight</c> (checkpoints unchanged) and an exact, repeatable gradient.
    /// </summary>
    internal Tensor SpatialLogits(Tensor pooled)
    {
        using var scope = NewDisposeScope();
        long batch = pooled.shape[0], height = pooled.shape[2], width = pooled.shape[3];
        var columns = nn.functional.unfold(pooled, 7, padding: 3);
        var logits = spatial.weight!.reshape(1, -1).matmul(columns);
        return logits.view(batch, 1, height, width).MoveToOuterDisposeScope();
    }
}
