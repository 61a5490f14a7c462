// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.SelfSupervision;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Online;

/// <summary>
/// HSAKD's online variant (hsakd-sskd.md §2.7, distillers-more.md §2.4): M peers, each with its own auxiliary branches, trained from
/// scratch on the rotation-expanded batch of 4B rows; each learns the task and the joint (class x rotation) task and from every other
/// peer's softened distributions:
/// <code>
/// L = Σ_m [ CE(z_m[0::4], y) + Σ_l CE(q_{m,l}, 4y+j) ]                 "ce", "aux_ce"
///   + Σ_{a≠b} KL_T(z_a, z_b)                                             "kl": main heads, all 4B rows, K-way
///   + Σ_l Σ_{a≠b} KL_T(q_{a,l}, q_{b,l})                                 "aux_kl": branch l of every ordered pair, 4B rows, 4K-way
/// </code>
/// each KL toward the detached other peer, batch-mean over the 4B rows times T² (T = 3 in the authors' code); all weights 1. The
/// auxiliary branches read the backbone's features without detaching them (the code's <c>grad=True</c>). For two peers this is the
/// code's loss term for term; with more, every ordered pair contributes (each peer learns from each other peer).
/// </summary>
internal sealed class OnlineHsakdLoss : IDistillationLoss, IDisposable
{
    private readonly PeerAccuracy _accuracy;

    public OnlineHsakdLoss(double temperature, int peerCount)
    {
        Temperature = temperature;
        _accuracy = new PeerAccuracy(peerCount);
    }

    public double Temperature { get; }

    public IReadOnlyList<string> TermNames { get; } = ["ce", "aux_ce", "kl", "aux_kl"];

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => true;

    public bool UsesRotations => true;

    public IReadOnlyDictionary<string, double>? EpochDiagnostics() => _accuracy.TakeEpoch();

    public void Dispose() => _accuracy.Dispose();

    public LossResult Compute(LossBatch batch)
    {
        var peers = PeerGroupLoss.Peers(batch, "HSAKD online");
        int branches = peers[0].AuxLogits.Count;
        if (branches == 0 || peers.Any(p => p.AuxLogits.Count != branches))
            throw new InvalidOperationException(
                $"HSAKD online pairs the peers' auxiliary branches one-to-one, but they have [{string.Join(", ", peers.Select(p => p.AuxLogits.Count))}].");

        var device = batch.Labels.device;
        Tensor ce = zeros([], device: device), auxCe = zeros([], device: device), kl = zeros([], device: device), auxKl = zeros([], device: device);
        for (int a = 0; a < peers.Count; a++)
        {
            var originals = Rotations.Originals(peers[a].Logits);
            _accuracy.Count(a, originals, batch.Labels);
            ce = ce + LossFunctions.CrossEntropy(originals, batch.Labels);
            for (int l = 0; l < branches; l++)
                auxCe = auxCe + LossFunctions.CrossEntropy(peers[a].AuxLogits[l], batch.JointLabels);
            for (int b = 0; b < peers.Count; b++)
            {
                if (a == b)
                    continue;
                kl = kl + LossFunctions.SoftenedKl(peers[a].Logits, peers[b].Logits, Temperature);
                for (int l = 0; l < branches; l++)
                    auxKl = auxKl + LossFunctions.SoftenedKl(peers[a].AuxLogits[l], peers[b].AuxLogits[l], Temperature);
            }
        }

        return new LossResult(ce + auxCe + kl + auxKl,
        [
            new("ce", ce),
            new("aux_ce", auxCe),
            new("kl", kl),
            new("aux_kl", auxKl),
        ]);
    }
}
