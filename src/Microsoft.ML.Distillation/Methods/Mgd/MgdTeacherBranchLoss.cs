// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Mgd;

/// <summary>
/// MGD's pre-stage (distillers-more.md §8): only the teacher's granularity branches train, on the frozen, eval-mode teacher's pooled
/// embedding h (detached). Each branch learns the labels and the teacher's softened outputs through its bottleneck:
/// <code>
/// narrow = CE(dec_64(enc_64(h)), y) + 2² · KL(softmax(z_t / 2) ‖ softmax(dec_64 / 2))
/// wide   = CE(dec_256(enc_256(h)), y) + 8² · KL(softmax(z_t / 8) ‖ softmax(dec_256 / 8))
/// </code>
/// The network this loss runs with is the teacher, trained with <c>TrainableParts.None</c>. The reference trains each branch in its
/// own pass over the data with its own optimiser; the branches share no parameter, so one pass with their sum gives each branch the
/// same gradients (on a common batch order instead of two).
/// </summary>
internal sealed class MgdTeacherBranchLoss : IDistillationLoss
{
    private readonly TeacherGranularityBranches _branches;
    private readonly Granularities _granularities;

    /// <param name="branches">The branches to train (owned by the caller).</param>
    /// <param name="granularities">Their temperatures.</param>
    public MgdTeacherBranchLoss(TeacherGranularityBranches branches, Granularities granularities)
    {
        _branches = branches;
        _granularities = granularities;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> TermNames { get; } = ["narrow", "wide"];

    /// <inheritdoc/>
    public bool RequiresTeacher => false;

    /// <inheritdoc/>
    public bool UsesAuxiliaryBranches => false;

    /// <inheritdoc/>
    public bool UsesRotations => false;

    /// <inheritdoc/>
    public nn.Module? TrainableModule => _branches;

    /// <inheritdoc/>
    public LossResult Compute(LossBatch batch)
    {
        Tensor narrow, wide;
        using (var scope = NewDisposeScope())
        {
            var teacherLogits = batch.Student.Logits.detach();
            var output = _branches.Forward(batch.Student.Embedding.detach());
            narrow = BranchLoss(output.NarrowLogits, teacherLogits, batch.Labels, _granularities.NarrowTemperature).MoveToOuterDisposeScope();
            wide = BranchLoss(output.WideLogits, teacherLogits, batch.Labels, _granularities.WideTemperature).MoveToOuterDisposeScope();
        }

        return new LossResult(narrow + wide, [new("narrow", narrow), new("wide", wide)]);
    }

    /// <summary><c>CE(decoded, y) + T² · KL(softmax(z_t / T) ‖ softmax(decoded / T))</c>.</summary>
    internal static Tensor BranchLoss(Tensor decoded, Tensor teacherLogits, Tensor labels, double temperature)
        => LossFunctions.CrossEntropy(decoded, labels) + LossFunctions.SoftenedKl(decoded, teacherLogits, temperature);
}
