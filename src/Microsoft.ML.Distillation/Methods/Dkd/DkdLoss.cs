// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Dkd;

/// <summary>
/// Decoupled KD (Zhao et al., CVPR 2022; distillers.md §8.1) on the original (unrotated) images:
/// <c>L = γ · CE + w(e) · (α · TCKD + β · NCKD)</c>.
/// </summary>
/// <remarks>
/// <para>With <c>p = softmax(z / T)</c> and y the label: <c>b = [p_y, 1 − p_y]</c> and <c>TCKD = T² · mean_i KL(b_t ‖ b_s)</c>;
/// <c>p̂ = softmax over the classes other than y</c> of <c>z / T</c> and <c>NCKD = T² · mean_i KL(p̂_t ‖ p̂_s)</c>. The logarithms are
/// taken from log-softmax and log-sum-exp (log(1 − p_y) = logsumexp of the non-target logits − logsumexp of all), not from the
/// probabilities, so a confident prediction gives no log 0.</para>
/// <para>Warm-up: in 0-based epoch e the distillation weight is <c>min((e + 1) / W, 1)</c> (the reference counts epochs from 1).</para>
/// </remarks>
internal sealed class DkdLoss : IDistillationLoss
{
    public DkdLoss(double temperature, double crossEntropyWeight, double targetWeight, double nonTargetWeight, int warmupEpochs,
        CurriculumTemperature? curriculum = null)
    {
        Curriculum = curriculum;
        Temperature = temperature;
        CrossEntropyWeight = crossEntropyWeight;
        TargetWeight = targetWeight;
        NonTargetWeight = nonTargetWeight;
        WarmupEpochs = warmupEpochs;
    }

    public double Temperature { get; }
    public double CrossEntropyWeight { get; }
    public double TargetWeight { get; }
    public double NonTargetWeight { get; }
    public int WarmupEpochs { get; }

    /// <summary>CTKD's learned temperature, used instead of <see cref="Temperature"/> in both terms when set.</summary>
    public CurriculumTemperature? Curriculum { get; }

    public nn.Module? TrainableModule => Curriculum;

    public IReadOnlyDictionary<string, double>? EpochDiagnostics() => Curriculum?.Diagnostics();

    public IReadOnlyList<string> TermNames { get; } = ["ce", "tckd", "nckd"];

    public bool RequiresTeacher => true;

    public bool ReadsTeacherLogitsOnly => true;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    /// <summary>The distillation weight w in 0-based epoch <paramref name="epoch"/>: min((epoch + 1) / W, 1).</summary>
    public double WarmupFactor(int epoch) => Math.Min((epoch + 1) / (double)WarmupEpochs, 1.0);

    /// <summary>The paper's 20 of 240 epochs scaled to a run of <paramref name="epochs"/>: ⌈epochs / 12⌉.</summary>
    public static int ScaledWarmupEpochs(int epochs) => Math.Max(1, (epochs + 11) / 12);

    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException("DKD needs the teacher's outputs.");
        double w = WarmupFactor(batch.Step.Epoch);
        var ce = LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels) * CrossEntropyWeight;
        var (tckd, nckd) = Curriculum is null
            ? Terms(batch.Student.Logits, teacher.Logits, batch.Labels, Temperature)
            : Terms(batch.Student.Logits, teacher.Logits, batch.Labels, Curriculum.Temperature(batch.Step, batch.Student.Logits, teacher.Logits));
        var weightedTckd = tckd * (w * TargetWeight);
        var weightedNckd = nckd * (w * NonTargetWeight);
        return new LossResult(ce + weightedTckd + weightedNckd,
        [
            new("ce", ce),
            new("tckd", weightedTckd),
            new("nckd", weightedNckd),
        ]);
    }

    /// <summary>TCKD and NCKD (each T² · batch-mean KL, unweighted) of student logits [B, K] against the teacher's (detached here).</summary>
    public static (Tensor Tckd, Tensor Nckd) Terms(Tensor studentLogits, Tensor teacherLogits, Tensor labels, double temperature)
    {
        using var t = tensor((float)temperature, device: studentLogits.device);
        return Terms(studentLogits, teacherLogits, labels, t);
    }

    /// <summary>TCKD and NCKD with a temperature tensor ([1] or a scalar, or [B, 1] per row; CTKD's carries a gradient).</summary>
    public static (Tensor Tckd, Tensor Nckd) Terms(Tensor studentLogits, Tensor teacherLogits, Tensor labels, Tensor temperature)
    {
        using var scope = NewDisposeScope();
        long rows = studentLogits.shape[0];
        var target = nn.functional.one_hot(labels, studentLogits.shape[1]).to_type(ScalarType.Bool);
        var (sTarget, sRest, sNonTarget) = Split(studentLogits / temperature, target);
        var (tTarget, tRest, tNonTarget) = Split(teacherLogits.detach() / temperature, target);

        // KL(b_t ‖ b_s) over the two cells (target, rest), per row.
        var tckd = tTarget.exp() * (tTarget - sTarget) + tRest.exp() * (tRest - sRest);
        // KL(p̂_t ‖ p̂_s) over the non-target classes; the target's column holds 0 · (finite) after the mask.
        var nckd = tNonTarget.exp() * (tNonTarget - sNonTarget);
        if (temperature.numel() == 1)
        {
            var scale = temperature.square().squeeze() / rows;
            return ((tckd.sum() * scale).MoveToOuterDisposeScope(), (nckd.sum() * scale).MoveToOuterDisposeScope());
        }

        // One temperature per row ([B, 1], CTKD's instance-wise variant): each row's KL weighted by its own T², then the batch mean.
        var perRowScale = temperature.square().view(-1);
        return (((tckd * perRowScale).sum() / rows).MoveToOuterDisposeScope(), ((nckd.sum(1) * perRowScale).sum() / rows).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// For softened logits [B, K]: log p_y [B], log(1 − p_y) [B], and the log-softmax over the non-target classes [B, K] (the target
    /// column pushed to a probability of 0, as the reference's "− 1000").
    /// </summary>
    private static (Tensor LogTarget, Tensor LogRest, Tensor LogNonTarget) Split(Tensor softened, Tensor target)
    {
        var all = softened.logsumexp(1);
        var masked = softened.masked_fill(target, float.NegativeInfinity);
        var rest = masked.logsumexp(1);
        var logTarget = softened.masked_select(target) - all;
        var logNonTarget = (softened - rest.unsqueeze(1)).masked_fill(target, -1000);
        return (logTarget, rest - all, logNonTarget);
    }
}
