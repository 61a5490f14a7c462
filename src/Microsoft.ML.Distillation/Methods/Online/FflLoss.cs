// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Online;

/// <summary>
/// FFL (Kim et al., "Feature Fusion for Online Mutual Knowledge Distillation", ICPR 2020; distillers-more.md §1.1), with MFEF's
/// optional blocks in the fusion path (§1.2): a fusion module reads the maps the peers' heads pool (their last stage maps; after
/// WRN's final BN + ReLU) and classifies (z_f); the peers learn
/// from the fused classifier, the fused classifier from the peers' ensemble z_e = mean_m z_m:
/// <code>
/// L = Σ_m CE(z_m, y)                      "ce"
///   + CE(z_f, y)                          "fused_ce"
///   + w(e) · Σ_m KL_T(z_m, z_f)           "kl"         toward the detached fused logits
///   + w(e) · KL_T(z_f, z_e)               "fused_kl"   toward the detached ensemble
/// </code>
/// T = 3; w(e) = exp(−5 (1 − min(e, R)/R)²) over 0-based epochs e (the code's sigmoid ramp-up, R = 80 of its 300 epochs). The maps
/// are not detached: the fused classifier's CE reaches the peers, as in the code. The fusion module is the loss's trainable module with
/// its own weight decay (1e-5 in the code).
/// </summary>
internal sealed class FflLoss : IDistillationLoss, IDisposable
{
    private readonly PeerAccuracy _accuracy;
    private FeatureFusionModule? _fusion;
    private double _weight;

    /// <summary>The loss of <paramref name="peerCount"/> peers; <see cref="Prepare"/> makes the fusion module once their map widths are known.</summary>
    public FflLoss(int peerCount, double temperature, int rampUpEpochs, double fusionWeightDecay, bool mfefBlocks)
    {
        PeerCount = peerCount;
        Temperature = temperature;
        RampUpEpochs = rampUpEpochs;
        FusionWeightDecay = fusionWeightDecay;
        MfefBlocks = mfefBlocks;
        _accuracy = new PeerAccuracy(peerCount, "fused");
    }

    public int PeerCount { get; }
    public double Temperature { get; }
    public int RampUpEpochs { get; }
    public double FusionWeightDecay { get; }

    /// <summary>Whether MFEF's reconstructed multi-scale and attention blocks process each map before the fusion.</summary>
    public bool MfefBlocks { get; }

    /// <summary>The fusion module (trained with the peers, checkpointed, not part of the fitted model).</summary>
    public FeatureFusionModule Fusion => _fusion ?? throw new InvalidOperationException("FFL's fusion module is made by Prepare, before training.");

    public IReadOnlyList<string> TermNames { get; } = ["ce", "fused_ce", "kl", "fused_kl"];

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    public nn.Module? TrainableModule => _fusion;

    public ModuleOptimization? TrainableModuleOptimization => new(1, FusionWeightDecay);

    /// <summary>Makes the fusion module for peers whose last maps have these channel counts, over <paramref name="classCount"/> classes.</summary>
    public void Prepare(IReadOnlyList<long> mapChannels, int classCount)
    {
        if (mapChannels.Count != PeerCount)
            throw new ArgumentException($"FFL was set up for {PeerCount} peers, got {mapChannels.Count} map widths.", nameof(mapChannels));
        _fusion?.Dispose();
        _fusion = new FeatureFusionModule(mapChannels, classCount, MfefBlocks);
    }

    /// <summary>The ramp-up weight of the KL terms at 0-based epoch <paramref name="epoch"/>.</summary>
    public static double RampUp(int epoch, int length)
    {
        if (length <= 0)
            return 1;
        double phase = 1 - Math.Clamp(epoch, 0, length) / (double)length;
        return Math.Exp(-5 * phase * phase);
    }

    /// <summary>Every peer's and the fused classifier's train accuracy, and the epoch's ramp-up weight <c>kl_weight</c>.</summary>
    public IReadOnlyDictionary<string, double>? EpochDiagnostics()
        => new Dictionary<string, double>(_accuracy.TakeEpoch() ?? new Dictionary<string, double>()) { ["kl_weight"] = _weight };

    public LossResult Compute(LossBatch batch)
    {
        var peers = PeerGroupLoss.Peers(batch, "FFL");
        if (peers.Count != PeerCount)
            throw new InvalidOperationException($"FFL was set up for {PeerCount} peers, but the step ran {peers.Count}.");
        var labels = batch.Labels;
        _weight = RampUp(batch.Step.Epoch, RampUpEpochs);

        var fused = Fusion.call(peers.Select(p => p.PooledMap ?? throw new InvalidOperationException("FFL needs the map each peer's head pools.")).ToArray());
        Tensor ce = zeros([], device: labels.device), kl = zeros([], device: labels.device);
        for (int m = 0; m < peers.Count; m++)
        {
            _accuracy.Count(m, peers[m].Logits, labels);
            ce = ce + LossFunctions.CrossEntropy(peers[m].Logits, labels);
            kl = kl + LossFunctions.SoftenedKl(peers[m].Logits, fused, Temperature);
        }
        var ensemble = stack(peers.Select(p => p.Logits.detach()).ToArray()).mean([0]);
        var fusedCe = LossFunctions.CrossEntropy(fused, labels);
        var fusedKl = LossFunctions.SoftenedKl(fused, ensemble, Temperature) * _weight;
        kl = kl * _weight;
        _accuracy.Count(peers.Count, fused, labels);
        return new LossResult(ce + fusedCe + kl + fusedKl, [new("ce", ce), new("fused_ce", fusedCe), new("kl", kl), new("fused_kl", fusedKl)]);
    }

    public void Dispose()
    {
        _accuracy.Dispose();
        _fusion?.Dispose();
    }
}
