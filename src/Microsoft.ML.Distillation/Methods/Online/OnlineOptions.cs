// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Online</c>: several peer networks trained together from scratch, teaching each other; no
/// pretrained teacher. One run trains every peer (M times the network cost of one training; see docs/benchmarks.md); the fitted model
/// is one peer (see <see cref="Estimators.OnlineEstimator"/> for which), and <see cref="Estimators.OnlineEstimator.FitPeers"/> returns them all.
/// </summary>
public sealed class OnlineOptions : TrainingOptions
{
    /// <summary>Default peer architecture: "wrn16_2".</summary>
    public const string DefaultArchitecture = "wrn16_2";

    /// <summary>Creates options with the documented defaults: two WRN-16-2 peers, HSAKD online, the training defaults of <see cref="TrainingOptions"/>.</summary>
    public OnlineOptions()
    {
        Architecture = DefaultArchitecture;
    }

    /// <summary>How the peers teach each other. Default <see cref="OnlineMethod.Hsakd"/>.</summary>
    public OnlineMethod Method = OnlineMethod.Hsakd;

    /// <summary>Number of peers, all of <see cref="TrainingOptions.Architecture"/>, when <see cref="PeerArchitectures"/> is null. Default 2 (at least 2).</summary>
    public int PeerCount = 2;

    /// <summary>
    /// One architecture per peer, to train different networks together (e.g. <c>["wrn16_2", "wrn40_2"]</c>); overrides
    /// <see cref="TrainingOptions.Architecture"/> and <see cref="PeerCount"/>. Default null: <see cref="PeerCount"/> copies of
    /// <see cref="TrainingOptions.Architecture"/>. For HSAKD online the peers need the same number of auxiliary branches.
    /// </summary>
    public string[]? PeerArchitectures;

    /// <summary>Temperature T of every softened KL between peers (and FFL's fused classifier). Default 3 (each method's code).</summary>
    public double Temperature = 3;

    /// <summary>MCL: temperature τ of the similarities S = E_a E_bᵀ / τ. Default 0.1 (the code's CIFAR setting).</summary>
    public double ContrastTemperature = 0.1;

    /// <summary>MCL: width of the embedding heads. Default 128.</summary>
    public int EmbeddingWidth = 128;

    /// <summary>MCL: weight of the vanilla (within-peer) contrastive term. Default 0.1 (the scripts' <c>--alpha</c>).</summary>
    public double VanillaContrastWeight = 0.1;

    /// <summary>MCL: weight of the soft vanilla contrastive term. Default 1 (<c>--gamma</c>).</summary>
    public double SoftVanillaContrastWeight = 1;

    /// <summary>MCL: weight of the interactive (cross-peer) contrastive term. Default 0.1 (<c>--beta</c>).</summary>
    public double InteractiveContrastWeight = 0.1;

    /// <summary>MCL: weight of the soft interactive contrastive term. Default 1 (<c>--lam</c>).</summary>
    public double SoftInteractiveContrastWeight = 1;

    /// <summary>
    /// MCL: weight of each peer's KL toward the detached mean of the peers' logits (the code's <c>--logit-distill</c>, which its
    /// best CIFAR-100 results use with four peers). Default 0: off, as in the paper's main MCL rows.
    /// </summary>
    public double EnsembleDistillationWeight;

    /// <summary>
    /// FFL: pass each peer's last map through MFEF's multi-scale extraction (Res2Net-style, 4 channel groups) and dual attention
    /// (CBAM-style) before the fusion. Default false. <b>A reconstruction</b>: the MFEF paper's method section and code were not
    /// available; only its abstract names these blocks, and their designs here are ours.
    /// </summary>
    public bool MfefBlocks;

    /// <summary>FFL: weight decay of the fusion module. Default 1e-5 (the code's; the peers use <see cref="TrainingOptions.WeightDecay"/>).</summary>
    public double FusionWeightDecay = 1e-5;

    /// <summary>
    /// FFL: epochs over which the weight of the KL terms ramps up as exp(−5 (1 − e/R)²). Default null: ⌈Epochs · 80 / 300⌉ (the
    /// code's 80 of 300 epochs); 0 turns the ramp off (weight 1 from the start).
    /// </summary>
    public int? FusionRampUpEpochs;

    /// <summary>The peers' architectures this option set trains, in order.</summary>
    internal IReadOnlyList<string> Peers => PeerArchitectures ?? Enumerable.Repeat(Architecture, PeerCount).ToArray();
}
