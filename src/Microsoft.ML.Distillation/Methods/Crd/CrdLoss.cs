// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Crd;

/// <summary>
/// Contrastive representation distillation (Tian, Krishnan, Isola, ICLR 2020; distillers.md §3), "exact" positives. Each sample's
/// student embedding e_s is scored against the teacher bank at its own row and K rows of other classes,
/// <c>u = exp(e_s · M_t[j] / τ)</c>, and the teacher embedding e_t against the student bank the same way; each side is divided by a
/// constant Z fixed on the first batch (mean(u) · N). With P = u / Z and noise mass r = K / N, the NCE loss of one anchor is
/// <c>−log(P_pos / (P_pos + r + ε)) − Σ_k log(r / (P_neg,k + r + ε))</c>, ε = 1e-7, and L_CRD is the batch mean of the student
/// anchor's plus the teacher anchor's. After the optimiser step both banks take the batch's embeddings at its rows with momentum.
/// </summary>
internal sealed class CrdLoss : FeatureDistillationLoss, IDisposable
{
    private const double Epsilon = 1e-7;
    private Tensor? _pendingRows;
    private Tensor? _pendingStudent;
    private Tensor? _pendingTeacher;

    public CrdLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight, int negatives,
        double contrastTemperature, double momentum, ContrastMemory? memory, NegativeSampler? sampler)
        : base(crossEntropyWeight, distillationWeight, temperature, "crd")
    {
        Weight = weight;
        Negatives = negatives;
        ContrastTemperature = contrastTemperature;
        Momentum = momentum;
        Memory = memory;
        Sampler = sampler;
    }

    public double Weight { get; }

    public int Negatives { get; }

    public double ContrastTemperature { get; }

    public double Momentum { get; }

    public ContrastMemory? Memory { get; }

    public NegativeSampler? Sampler { get; }

    public override bool UsesTeacherFeatures => false;

    public override nn.Module? TrainableModule => Memory;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        var memory = Memory ?? throw new InvalidOperationException("CRD's memory is created when training starts.");
        var sampler = Sampler!;
        var device = student.Embedding.device;
        var rows = tensor(batch.Step.RowIndices.Select(r => (long)r).ToArray(), device: device);
        Tensor indices;
        using (var generator = batch.Step.CreateGenerator())
            indices = sampler.Sample(rows, batch.Labels, Negatives, generator, device);

        var eStudent = memory.EmbedStudent(student.Embedding);
        var eTeacher = memory.EmbedTeacher(teacher.Embedding);
        var studentScores = Scores(memory.TeacherBank, indices, eStudent, ContrastTemperature);
        var teacherScores = Scores(memory.StudentBank, indices, eTeacher, ContrastTemperature);
        using (no_grad())
        {
            var z = memory.Normalizers;
            if (z[0].item<float>() < 0)
                z[0] = studentScores.mean() * (float)sampler.RowCount;
            if (z[1].item<float>() < 0)
                z[1] = teacherScores.mean() * (float)sampler.RowCount;
        }

        var value = Contrast(studentScores / memory.Normalizers[0].item<float>(), sampler.RowCount)
            + Contrast(teacherScores / memory.Normalizers[1].item<float>(), sampler.RowCount);

        ClearPending();
        _pendingRows = rows.DetachFromDisposeScope();
        _pendingStudent = eStudent.detach().clone().DetachFromDisposeScope();
        _pendingTeacher = eTeacher.detach().clone().DetachFromDisposeScope();
        yield return value * Weight;
    }

    /// <summary>The banks take this step's embeddings at its rows (momentum, then L2 normalisation).</summary>
    public override void OnStepEnd(LossBatch batch)
    {
        if (_pendingRows is null || Memory is null)
            return;
        ContrastMemory.Update(Memory.StudentBank, _pendingRows, _pendingStudent!, Momentum);
        ContrastMemory.Update(Memory.TeacherBank, _pendingRows, _pendingTeacher!, Momentum);
        ClearPending();
    }

    /// <summary><c>exp(bank[indices] · anchor / τ)</c>, [B, K + 1]: the bank rows are gathered without gradient.</summary>
    public static Tensor Scores(Tensor bank, Tensor indices, Tensor anchor, double temperature)
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
        Memory?.Dispose();
        Sampler?.Dispose();
    }
}
