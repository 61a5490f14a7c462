// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.ZipfLs;

/// <summary>The main head applied at every position of the last stage map ("dense" predictions), for Zipf's votes.</summary>
/// <param name="Head">The network's main linear head, D to K (read at each step: it trains with the network).</param>
/// <param name="Upsample">Bilinear x2 upsampling of the map before voting (the reference's CIFAR setting).</param>
internal sealed record DenseHead(TorchSharp.Modules.Linear Head, bool Upsample);

/// <summary>
/// Zipf's label smoothing (Liang et al., ECCV 2022; distillers-more.md §4): self-distillation without a teacher. The network's own
/// ranking of the classes (votes of its dense per-position predictions, or, without a usable dense head, its logits) gives each
/// non-target class the weight <c>rank^(−power)</c>, renormalised over the non-target classes; the loss is
/// <c>CE + λ · mean_b KL(q_b ‖ softmax of the non-target logits)</c>. Ranks follow the "min" rule: tied classes share the smallest
/// rank, classes without votes share the rank after the voted ones. No gradient flows through the targets.
/// </summary>
internal sealed class ZipfLsLoss(double weight, double power, DenseHead? dense) : IDistillationLoss
{
    public double Weight { get; } = weight;

    public double Power { get; } = power;

    /// <summary>The dense head, or null to rank by the logits.</summary>
    public DenseHead? Dense { get; } = dense;

    public IReadOnlyList<string> TermNames { get; } = ["ce", "zipf"];

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    public LossResult Compute(LossBatch batch)
    {
        var student = batch.Student;
        Tensor targets;
        using (no_grad())
        {
            var scores = Dense is { } head ? Votes(student.Features[^1].detach(), head) : student.Logits.detach();
            targets = Targets(Ranks(scores), batch.Labels, Power);
        }

        var ce = LossFunctions.CrossEntropy(student.Logits, batch.Labels);
        var zipf = NonTargetKl(student.Logits, batch.Labels, targets) * Weight;
        return new LossResult(ce + zipf, [new("ce", ce), new("zipf", zipf)]);
    }

    /// <summary>Votes per class [B, K]: how many positions of the (optionally upsampled) map the head assigns to each class.</summary>
    public static Tensor Votes(Tensor map, DenseHead head)
    {
        using var scope = NewDisposeScope();
        if (head.Upsample)
            map = nn.functional.interpolate(map, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);
        long b = map.shape[0], d = map.shape[1];
        var positions = map.permute(0, 2, 3, 1).reshape(b, -1, d);
        var winners = head.Head.call(positions).argmax(-1);
        return nn.functional.one_hot(winners, head.Head.out_features).sum(1).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>Ranks [B, K] by descending score, 1-based; ties share the smallest rank: <c>r_c = 1 + #{c' : s_c' > s_c}</c>.</summary>
    public static Tensor Ranks(Tensor scores)
    {
        using var scope = NewDisposeScope();
        return (scores.unsqueeze(1).gt(scores.unsqueeze(2)).sum(2) + 1).to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>q [B, K]: <c>rank^(−power)</c>, 0 at the label, normalised over the other classes.</summary>
    public static Tensor Targets(Tensor ranks, Tensor labels, double power)
    {
        using var scope = NewDisposeScope();
        var q = ranks.pow(-power).scatter(1, labels.unsqueeze(1), zeros(labels.shape[0], 1, dtype: ranks.dtype, device: ranks.device));
        return (q / q.sum(1, keepdim: true)).MoveToOuterDisposeScope();
    }

    /// <summary><c>mean_b Σ_{c ≠ y} q_c (log q_c − log p_c)</c>, p the softmax of the logits without the label's.</summary>
    public static Tensor NonTargetKl(Tensor logits, Tensor labels, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var isLabel = zeros_like(logits, dtype: ScalarType.Bool).scatter(1, labels.unsqueeze(1), ones(labels.shape[0], 1, dtype: ScalarType.Bool, device: logits.device));
        var logP = logits.masked_fill(isLabel, double.NegativeInfinity).log_softmax(1).masked_fill(isLabel, 0);
        var logQ = targets.clamp_min(1e-30).log();
        return (targets * (logQ - logP)).sum(1).mean().MoveToOuterDisposeScope();
    }
}
