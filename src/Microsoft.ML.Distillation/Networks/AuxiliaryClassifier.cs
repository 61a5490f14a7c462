// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The HSAKD auxiliary branches: branch l maps tap feature F_l through its feature extractor (a replica of the
/// remaining backbone stages), an optional BatchNorm + ReLU, global average pooling and a fresh linear layer to
/// K*M joint (class x rotation) logits.
/// </summary>
/// <remarks>
/// State-dict names follow the PyTorch reference (<c>block_extractor{l}</c>, <c>bn{l}</c>, <c>fc{l}</c>, 1-based),
/// so that weights trained with the reference code map onto these modules by renaming the top-level prefix only.
/// </remarks>
internal sealed class AuxiliaryClassifier : nn.Module<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>>
{
    private readonly nn.Module<Tensor, Tensor>[] _extractors;
    private readonly BatchNorm2d[]? _norms;
    private readonly Linear[] _heads;

    /// <param name="name">Module name.</param>
    /// <param name="extractors">One feature extractor per branch, shallow tap first.</param>
    /// <param name="norms">Optional BatchNorm per branch, applied (then ReLU) after the extractor; null for none.</param>
    /// <param name="featureSize">Channels at the end of every extractor.</param>
    /// <param name="outputCount">Outputs of every branch: K*M.</param>
    public AuxiliaryClassifier(
        string name,
        IReadOnlyList<nn.Module<Tensor, Tensor>> extractors,
        IReadOnlyList<BatchNorm2d>? norms,
        int featureSize,
        int outputCount)
        : base(name)
    {
        if (extractors.Count == 0)
        {
            throw new ArgumentException("At least one auxiliary branch is needed.", nameof(extractors));
        }

        if (norms is not null && norms.Count != extractors.Count)
        {
            throw new ArgumentException("Give one BatchNorm per branch, or none.", nameof(norms));
        }

        _extractors = [.. extractors];
        _norms = norms is null ? null : [.. norms];
        _heads = new Linear[extractors.Count];
        for (var i = 0; i < _heads.Length; i++)
        {
            _heads[i] = nn.Linear(featureSize, outputCount);
        }

        FeatureSize = featureSize;
        OutputCount = outputCount;

        // Registration order mirrors the reference: all extractors, then the norms, then the heads.
        for (var i = 0; i < _extractors.Length; i++)
        {
            register_module($"block_extractor{i + 1}", _extractors[i]);
        }

        if (_norms is not null)
        {
            for (var i = 0; i < _norms.Length; i++)
            {
                register_module($"bn{i + 1}", _norms[i]);
            }
        }

        for (var i = 0; i < _heads.Length; i++)
        {
            register_module($"fc{i + 1}", _heads[i]);
        }
    }

    /// <summary>Number of branches.</summary>
    public int BranchCount => _extractors.Length;

    /// <summary>Channels entering each branch's linear head.</summary>
    public int FeatureSize { get; }

    /// <summary>Outputs of every branch (K*M).</summary>
    public int OutputCount { get; }

    /// <summary>The linear heads, one per branch.</summary>
    public IReadOnlyList<Linear> Heads => _heads;

    /// <summary>Maps the tap features (one per branch, shallow first) to joint logits [B, K*M] per branch.</summary>
    public override IReadOnlyList<Tensor> forward(IReadOnlyList<Tensor> taps)
    {
        if (taps.Count != _extractors.Length)
        {
            throw new ArgumentException($"Expected {_extractors.Length} tap features, got {taps.Count}.", nameof(taps));
        }

        var logits = new Tensor[taps.Count];
        for (var i = 0; i < logits.Length; i++)
        {
            logits[i] = ForwardBranch(i, taps[i]);
        }

        return logits;
    }

    /// <summary>
    /// <see cref="forward"/>, also returning each branch's final map (after its extractor and optional BatchNorm + ReLU, the input of
    /// its pooling), [B, C, H, W] per branch.
    /// </summary>
    public (IReadOnlyList<Tensor> Logits, IReadOnlyList<Tensor> Maps) ForwardWithMaps(IReadOnlyList<Tensor> taps)
    {
        if (taps.Count != _extractors.Length)
        {
            throw new ArgumentException($"Expected {_extractors.Length} tap features, got {taps.Count}.", nameof(taps));
        }

        var logits = new Tensor[taps.Count];
        var maps = new Tensor[taps.Count];
        for (var i = 0; i < logits.Length; i++)
        {
            (logits[i], maps[i]) = ForwardBranchWithMap(i, taps[i]);
        }

        return (logits, maps);
    }

    private Tensor ForwardBranch(int index, Tensor tap)
    {
        var (logits, map) = ForwardBranchWithMap(index, tap);
        map.Dispose();
        return logits;
    }

    private (Tensor Logits, Tensor Map) ForwardBranchWithMap(int index, Tensor tap)
    {
        using var scope = NewDisposeScope();
        var x = _extractors[index].call(tap);
        if (_norms is not null)
        {
            x = nn.functional.relu(_norms[index].call(x), inplace: true);
        }

        var pooled = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
        return (_heads[index].call(pooled).MoveToOuterDisposeScope(), x.MoveToOuterDisposeScope());
    }
}
