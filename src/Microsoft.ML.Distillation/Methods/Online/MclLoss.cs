// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Online;

/// <summary>
/// Mutual contrastive learning (MCL, Yang et al., AAAI 2022; distillers-more.md §2.1 and the minimal set of §2.5), in-batch: M peers,
/// each with an embedding head E_m = L2norm(Linear(128,128)(ReLU(Linear(d_m,128)(h_m)))) on its pooled embedding h_m, similarity
/// matrices S^{ab} = E_a E_bᵀ / τ (anchors are the rows, of peer a; the contrast set the columns, of peer b):
/// <code>
/// L = Σ_m CE(z_m, y)                                                        "ce"
///   + w_vcl  · Σ_a Hard(S^{aa})                                             "vcl"       vanilla contrastive, within a peer
///   + w_svcl · Σ_{a≠b} KL_T(S^{aa}, S^{bb})                                 "soft_vcl"  rows of similarities as logits
///   + w_icl  · Σ_{a&lt;b} [Hard(S^{ab}) + Hard(S^{ba})]                         "icl"       interactive contrastive, across peers
///   + w_sicl · Σ_{a&lt;b} [KL_T(S^{ab}, S^{ba}) + KL_T(S^{ba}, S^{ab})]          "soft_icl"
///   + w_kd   · Σ_m KL_T(z_m, mean_n z_n)                                    "kl"        optional, toward the detached peer mean
/// </code>
/// Hard(S) is the supervised InfoNCE of the code: for anchor i, positives P_i = other images of its class (j ≠ i),
/// <c>−(1/|P_i|) Σ_{j∈P_i} [S_ij − log Σ_{k≠i} exp S_ik]</c>, the log-sum-exp taken with −∞ on the diagonal (stable at any τ). The same
/// masks serve the cross-peer matrices, as in the code: the same image seen by the other peer is neither a positive nor a negative.
/// Each KL_T is toward the detached other side, batch-mean over the rows, times T²; the soft terms keep the diagonal.
/// </summary>
/// <remarks>
/// The authors' class-balanced sampler (two images per class in every batch) guarantees every anchor a positive. This engine samples
/// batches uniformly, so an anchor can have none; such anchors are left out of the hard terms, which average over the anchors that
/// have a positive (zero when none has). The soft terms use every row. The ensemble KD (<c>--logit-distill</c> in the code) is applied
/// to every peer; the code gives it to the last peer only when M &gt; 2, which reads as unintended.
/// </remarks>
internal sealed class MclLoss : IDistillationLoss, IDisposable
{
    private readonly PeerAccuracy _accuracy;
    private MclEmbeddingHeads? _heads;

    /// <summary>The loss of <paramref name="peerCount"/> peers; <see cref="Prepare"/> makes its embedding heads once the peers exist.</summary>
    public MclLoss(MclSettings settings, int peerCount)
    {
        Settings = settings;
        PeerCount = peerCount;
        _accuracy = new PeerAccuracy(peerCount);
        TermNames = settings.EnsembleWeight > 0
            ? ["ce", "vcl", "soft_vcl", "icl", "soft_icl", "kl"]
            : ["ce", "vcl", "soft_vcl", "icl", "soft_icl"];
    }

    public MclSettings Settings { get; }

    public int PeerCount { get; }

    /// <summary>The peers' embedding heads: trained with the peers, saved in checkpoints, not part of the fitted model.</summary>
    public MclEmbeddingHeads Heads => _heads ?? throw new InvalidOperationException("MCL's embedding heads are made by Prepare, before training.");

    /// <summary>Makes the embedding heads for peers with these pooled-embedding widths (under the training's seed, after the peers).</summary>
    public void Prepare(IReadOnlyList<int> embeddingSizes, int width)
    {
        if (embeddingSizes.Count != PeerCount)
            throw new ArgumentException($"MCL was set up for {PeerCount} peers, got {embeddingSizes.Count} embedding widths.", nameof(embeddingSizes));
        _heads?.Dispose();
        _heads = new MclEmbeddingHeads(embeddingSizes, width);
    }

    public IReadOnlyList<string> TermNames { get; }

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    public nn.Module? TrainableModule => _heads;

    public IReadOnlyDictionary<string, double>? EpochDiagnostics() => _accuracy.TakeEpoch();

    public void Dispose()
    {
        _accuracy.Dispose();
        _heads?.Dispose();
    }

    public LossResult Compute(LossBatch batch)
    {
        var peers = PeerGroupLoss.Peers(batch, "MCL");
        if (peers.Count != PeerCount)
            throw new InvalidOperationException($"MCL was set up for {PeerCount} peers, but the step ran {peers.Count}.");
        var labels = batch.Labels;
        var device = labels.device;
        double t = Settings.Temperature;

        Tensor ce = zeros([], device: device);
        var embeddings = new Tensor[peers.Count];
        for (int m = 0; m < peers.Count; m++)
        {
            _accuracy.Count(m, peers[m].Logits, labels);
            ce = ce + LossFunctions.CrossEntropy(peers[m].Logits, labels);
            embeddings[m] = Heads.Embed(m, peers[m].Embedding);
        }

        var positives = PositiveMask(labels);
        Tensor Similarity(int a, int b) => embeddings[a].matmul(embeddings[b].t()) / Settings.ContrastTemperature;
        var within = Enumerable.Range(0, peers.Count).Select(a => Similarity(a, a)).ToArray();

        Tensor vcl = zeros([], device: device), softVcl = zeros([], device: device), icl = zeros([], device: device), softIcl = zeros([], device: device);
        for (int a = 0; a < peers.Count; a++)
        {
            vcl = vcl + SupervisedContrast(within[a], positives);
            for (int b = 0; b < peers.Count; b++)
            {
                if (b != a)
                    softVcl = softVcl + LossFunctions.SoftenedKl(within[a], within[b], t);
            }
            for (int b = a + 1; b < peers.Count; b++)
            {
                var ab = Similarity(a, b);
                var ba = Similarity(b, a);
                icl = icl + SupervisedContrast(ab, positives) + SupervisedContrast(ba, positives);
                softIcl = softIcl + LossFunctions.SoftenedKl(ab, ba, t) + LossFunctions.SoftenedKl(ba, ab, t);
            }
        }

        var terms = new List<KeyValuePair<string, Tensor>>
        {
            new("ce", ce),
            new("vcl", vcl * Settings.VanillaWeight),
            new("soft_vcl", softVcl * Settings.SoftVanillaWeight),
            new("icl", icl * Settings.InteractiveWeight),
            new("soft_icl", softIcl * Settings.SoftInteractiveWeight),
        };
        if (Settings.EnsembleWeight > 0)
        {
            var mean = torch.stack(peers.Select(p => p.Logits.detach()).ToArray()).mean([0]);
            Tensor kl = zeros([], device: device);
            foreach (var peer in peers)
                kl = kl + LossFunctions.SoftenedKl(peer.Logits, mean, t);
            terms.Add(new("kl", kl * Settings.EnsembleWeight));
        }

        var total = terms[0].Value;
        for (int i = 1; i < terms.Count; i++)
            total = total + terms[i].Value;
        return new LossResult(total, terms);
    }

    /// <summary>P_ij = 1 when images i and j (i ≠ j) share a class, [B, B] float.</summary>
    internal static Tensor PositiveMask(Tensor labels)
    {
        using var scope = NewDisposeScope();
        var same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
        var self = eye(labels.shape[0], dtype: ScalarType.Bool, device: labels.device);
        return same.logical_and(self.logical_not()).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The hard contrastive term of MCL over one similarity matrix S [B, B] (anchors = rows): the mean over anchors with at least one
    /// positive of <c>−(1/|P_i|) Σ_j P_ij [S_ij − log Σ_{k≠i} exp S_ik]</c>; zero when no anchor has a positive.
    /// </summary>
    internal static Tensor SupervisedContrast(Tensor similarity, Tensor positives)
    {
        using var scope = NewDisposeScope();
        long b = similarity.shape[0];
        var self = eye(b, dtype: ScalarType.Bool, device: similarity.device);
        var logDenominator = similarity.masked_fill(self, double.NegativeInfinity).logsumexp(1, keepdim: true);
        var logProbability = (similarity - logDenominator).masked_fill(self, 0); // the diagonal is never a positive; keep −∞ out of 0·x
        var count = positives.sum(1);
        var perAnchor = -(positives * logProbability).sum(1) / count.clamp_min(1);
        var hasPositive = count.gt(0).to_type(perAnchor.dtype);
        return ((perAnchor * hasPositive).sum() / hasPositive.sum().clamp_min(1)).MoveToOuterDisposeScope();
    }
}

/// <summary>MCL's weights and temperatures (see <see cref="OnlineOptions"/> for their defaults and sources).</summary>
internal sealed record MclSettings(
    double ContrastTemperature, double Temperature, double VanillaWeight, double SoftVanillaWeight, double InteractiveWeight,
    double SoftInteractiveWeight, double EnsembleWeight);

/// <summary>
/// MCL's per-peer embedding heads, Linear(d_m, w) → ReLU → Linear(w, w) → L2 normalisation (w = 128 in the paper). A trainable module of
/// the loss: optimised with the peers, stored in checkpoints, dropped after training.
/// </summary>
internal sealed class MclEmbeddingHeads : nn.Module
{
    private readonly ModuleList<Sequential> heads;

    public MclEmbeddingHeads(IReadOnlyList<int> embeddingSizes, int width)
        : base(nameof(MclEmbeddingHeads))
    {
        heads = new ModuleList<Sequential>(embeddingSizes
            .Select(d => nn.Sequential(("fc1", nn.Linear(d, width)), ("relu", nn.ReLU()), ("fc2", nn.Linear(width, width))))
            .ToArray());
        RegisterComponents();
    }

    public int PeerCount => heads.Count;

    /// <summary>The unit-length embedding of peer <paramref name="peer"/>'s pooled features, [B, w].</summary>
    public Tensor Embed(int peer, Tensor pooled) => nn.functional.normalize(heads[peer].call(pooled), p: 2, dim: 1);
}
