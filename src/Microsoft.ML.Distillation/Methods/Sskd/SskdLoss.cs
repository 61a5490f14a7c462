// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// SSKD student loss ("Knowledge Distillation Meets Self-Supervision", hsakd-sskd.md §3.4, the reference code's weights), over a batch
/// of B images at four rotations (row 4i + j), each view cropped on its own. With z the logits and h = g(f) the projection of the pooled
/// embedding, n the B unrotated rows and a the 3B rotated ones:
/// <code>
/// L = w_ce  · CE(z_s[n], y)                                        τ = 1
///   + w_kd  · KL_T1(z_s[n], z_t[n])                                T1 = 4, batch-mean over B
///   + w_tf  · KL_T2(z_s[a][S_tf], z_t[a][S_tf])                    T2 = 4, rows S_tf kept by error-level ranking of z_t (ratio_tf)
///   + w_ss  · KL_T3(A_s[S_ss], A_t[S_ss])                          T3 = 0.5, A = [3B, B] cosine similarities, S_ss by ranking A_t (ratio_ss)
/// </code>
/// Defaults 0.1, 0.9, 2.7, 10; ratios 1.0 and 0.75. The teacher's head g_t is trained beforehand on the frozen teacher
/// (<see cref="SskdTeacherHeadLoss"/>) and stays frozen here; the student's head g_s trains with the student and is dropped afterwards.
/// </summary>
internal sealed class SskdLoss : IDistillationLoss, IDisposable
{
    private readonly ProjectionHead? _studentHead;
    private readonly ProjectionHead? _teacherHead;

    /// <param name="settings">Weights, temperatures and ratios.</param>
    /// <param name="studentHead">g_s, trained with the student (owned by the loss from now on).</param>
    /// <param name="teacherHead">g_t, frozen (owned by the loss from now on).</param>
    /// <remarks>The heads may be null only to ask for the loss's properties before they exist; <see cref="Compute"/> then throws.</remarks>
    public SskdLoss(SskdLossSettings settings, ProjectionHead? studentHead, ProjectionHead? teacherHead)
    {
        Settings = settings;
        _studentHead = studentHead;
        _teacherHead = teacherHead;
        if (teacherHead is not null)
        {
            foreach (var p in teacherHead.parameters())
                p.requires_grad = false;
            teacherHead.eval();
        }
    }

    /// <summary>Weights, temperatures and ratios.</summary>
    public SskdLossSettings Settings { get; }

    /// <summary>g_s.</summary>
    public ProjectionHead? StudentHead => _studentHead;

    /// <inheritdoc/>
    public IReadOnlyList<string> TermNames { get; } = ["ce", "kd", "kd_rotated", "similarity"];

    /// <inheritdoc/>
    public bool RequiresTeacher => true;

    /// <inheritdoc/>
    public bool UsesAuxiliaryBranches => false;

    /// <inheritdoc/>
    public bool UsesRotations => true;

    /// <inheritdoc/>
    public bool CropsEachView => true;

    /// <inheritdoc/>
    public nn.Module? TrainableModule => _studentHead;

    /// <inheritdoc/>
    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException("SSKD needs the teacher's outputs.");
        var teacherHead = _teacherHead ?? throw new InvalidOperationException("SSKD needs the teacher's trained projection head.");
        var studentHead = _studentHead ?? throw new InvalidOperationException("SSKD needs the student's projection head.");
        var student = batch.Student;
        var s = Settings;
        long b = batch.Labels.shape[0];

        var ce = LossFunctions.CrossEntropy(Rotations.Originals(student.Logits), batch.Labels) * s.CrossEntropyWeight;
        var kd = LossFunctions.SoftenedKl(Rotations.Originals(student.Logits), Rotations.Originals(teacher.Logits), s.Temperature)
            * s.DistillationWeight;

        Tensor kdRotated, similarity;
        using (var scope = NewDisposeScope())
        {
            var teacherRotated = Rotations.Rotated(teacher.Logits).detach();
            var rotatedTargets = batch.Labels.repeat_interleave(Rotations.Count - 1);
            var keepTf = ErrorLevelSelection.Mask(teacherRotated, rotatedTargets, s.RotatedRatio);
            kdRotated = (LossFunctions.SoftenedKl(Rotations.Rotated(student.Logits), teacherRotated, s.RotatedTemperature, keepTf)
                * s.RotatedDistillationWeight).MoveToOuterDisposeScope();

            Tensor teacherSimilarity;
            using (no_grad())
                teacherSimilarity = ViewSimilarity.Matrix(teacherHead.call(teacher.Embedding.detach()));
            var studentSimilarity = ViewSimilarity.Matrix(studentHead.call(student.Embedding));
            var keepSs = ErrorLevelSelection.Mask(teacherSimilarity, ViewSimilarity.Targets(b, teacherSimilarity.device), s.SimilarityRatio);
            similarity = (LossFunctions.SoftenedKl(studentSimilarity, teacherSimilarity, s.SimilarityTemperature, keepSs)
                * s.SimilarityWeight).MoveToOuterDisposeScope();
        }

        return new LossResult(ce + kd + kdRotated + similarity,
        [
            new("ce", ce),
            new("kd", kd),
            new("kd_rotated", kdRotated),
            new("similarity", similarity),
        ]);
    }

    /// <summary>Disposes both heads.</summary>
    public void Dispose()
    {
        _studentHead?.Dispose();
        _teacherHead?.Dispose();
    }
}

/// <summary>The numbers of <see cref="SskdLoss"/>, with the reference code's defaults.</summary>
internal sealed record SskdLossSettings
{
    public double CrossEntropyWeight { get; init; } = 0.1;
    public double DistillationWeight { get; init; } = 0.9;
    public double Temperature { get; init; } = 4;
    public double RotatedDistillationWeight { get; init; } = 2.7;
    public double RotatedTemperature { get; init; } = 4;
    public double RotatedRatio { get; init; } = 1.0;
    public double SimilarityWeight { get; init; } = 10;
    public double SimilarityTemperature { get; init; } = 0.5;
    public double SimilarityRatio { get; init; } = 0.75;
}
