// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Crd;

/// <summary>
/// The CRD term itself (see <see cref="CrdLoss"/> for the definition), with its memory and sampler, so that a method can add it to its
/// own terms (CRD alone, MGD on a CRD base). <see cref="Compute"/> keeps the step's rows and detached embeddings; <see cref="OnStepEnd"/>
/// writes them into the banks after the optimiser step.
/// </summary>
internal sealed class ContrastiveTerm(ContrastMemory memory, NegativeSampler sampler, int negatives, double temperature, double momentum) : IDisposable
{
    private const double Epsilon = 1e-7;
    private Tensor? _pendingRows;
    private Tensor? _pendingStudent;
    private Tensor? _pendingTeacher;

    public ContrastMemory Memory { get; } = memory;

    public NegativeSampler Sampler { get; } = sampler;

    /// <summary>L_CRD of the batch (unweighted): the student anchor's NCE loss plus the teacher anchor's.</summary>
    public Tensor Compute(Tensor studentEmbedding, Tensor teacherEmbedding, LossBatch batch)
    {
        var device = studentEmbedding.device;
        var rows = tensor(batch.Step.RowIndices.Select(r => (long)r).ToArray(), device: device);
        Tensor indices;
        using (var generator = batch.Step.CreateGenerator())
            indices = Sampler.Sample(rows, batch.Labels, negatives, generator, device);

        var eStudent = Memory.EmbedStudent(studentEmbedding);
        var eTeacher = Memory.EmbedTeacher(teacherEmbedding);
        var studentScores = Scores(Memory.TeacherBank, indices, eStudent, temperature);
        var teacherScores = Scores(Memory.StudentBank, indices, eTeacher, temperature);
        using (no_grad())
        {
            var z = Memory.Normalizers;
            if (z[0].item<float>() < 0)
                z[0] = studentScores.mean() * (float)Sampler.RowCount;
            if (z[1].item<float>() < 0)
                z[1] = teacherScores.mean() * (float)Sampler.RowCount;
        }

        var value = Contrast(studentScores / Memory.Normalizers[0].item<float>(), Sampler.RowCount)
            + Contrast(teacherScores / Memory.Normalizers[1].item<float>(), Sampler.RowCount);

        ClearPending();
        _pendingRows = rows.DetachFromDisposeScope();
        _pendingStudent = eStudent.detach().clone().DetachFromDisposeScope();
        _pendingTeacher = eTeacher.detach().clone().DetachFromDisposeScope();
        return value;
    }

    /// <summary>The banks take the last step's embeddings at its rows (momentum, then L2 normalisation).</summary>
    public void OnStepEnd()
    {
        if (_pendingRows is null)
            return;
        ContrastMemory.Update(Memory.StudentBank, _pendingRows, _pendingStudent!, momentum);
        ContrastMemory.Update(Memory.TeacherBank, _pendingRows, _pendingTeacher!, momentum);
        ClearPending();
    }

    /// <summary>
    /// <c>exp(bank[indices] · anchor / τ)</c>, [B, K + 1], the bank taken without gradient. Two ways to the same values (to float
    /// rounding): when the bank has at most 4 (K + 1) rows, the anchors are multiplied by the whole bank ([B, N], one GEMM) and the
    /// indexed scores picked from that; otherwise the B (K + 1) indexed rows are gathered and multiplied (<see cref="GatheredScores"/>),
    /// which for the paper's K = 16384 and batch 64 holds about 0.5 GB per side until the backward pass.
    /// </summary>
    public static Tensor Scores(Tensor bank, Tensor indices, Tensor anchor, double temperature)
        => bank.shape[0] <= 4 * indices.shape[1] ? FullBankScores(bank, indices, anchor, temperature) : GatheredScores(bank, indices, anchor, temperature);

    /// <summary>The scores from the product of the anchors with every bank row, [B, N], then picked by index.</summary>
    public static Tensor FullBankScores(Tensor bank, Tensor indices, Tensor anchor, double temperature)
    {
        using var scope = NewDisposeScope();
        return anchor.matmul(bank.detach().t()).gather(1, indices).div(temperature).exp().MoveToOuterDisposeScope();
    }

    /// <summary>The scores from the B (K + 1) gathered bank rows, each multiplied by its anchor.</summary>
    public static Tensor GatheredScores(Tensor bank, Tensor indices, Tensor anchor, double temperature)
    {
        using var scope = NewDisposeScope();
        long rows = indices.shape[0], columns = indices.shape[1];
        var gathered = bank.index_select(0, indices.reshape(-1)).detach().reshape(rows, columns, bank.shape[1]);
        return gathered.bmm(anchor.unsqueeze(2)).squeeze(2).div(temperature).exp().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The NCE loss of normalised scores P [B, K + 1] (column 0 the positive), batch mean: with r = K / N,
    /// <c>−(Σ_i log(P_i,0 / (P_i,0 + r + ε)) + Σ_i,k log(r / (P_i,k + r + ε))) / B</c>.
    /// </summary>
    public static Tensor Contrast(Tensor probabilities, long rowCount)
    {
        using var scope = NewDisposeScope();
        long batch = probabilities.shape[0];
        double noise = (probabilities.shape[1] - 1) / (double)rowCount;
        var positive = probabilities.narrow(1, 0, 1);
        var negative = probabilities.narrow(1, 1, probabilities.shape[1] - 1);
        var logPositive = (positive / (positive + (noise + Epsilon))).log().sum();
        var logNegative = (noise / (negative + (noise + Epsilon))).log().sum();
        return (-(logPositive + logNegative) / batch).MoveToOuterDisposeScope();
    }

    private void ClearPending()
    {
        _pendingRows?.Dispose();
        _pendingStudent?.Dispose();
        _pendingTeacher?.Dispose();
        _pendingRows = _pendingStudent = _pendingTeacher = null;
    }

    public void Dispose()
    {
        ClearPending();
        Memory.Dispose();
        Sampler.Dispose();
    }
}
