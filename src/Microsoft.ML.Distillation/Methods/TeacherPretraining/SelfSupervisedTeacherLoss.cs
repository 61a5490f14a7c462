// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.SelfSupervision;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.TeacherPretraining;

/// <summary>
/// HSAKD teacher pretraining (hsakd-sskd.md §2.4): <c>L = CE(z[0::4], y) + Σ_l CE(q_l, k)</c>, the main head on the B unrotated rows,
/// every auxiliary head on all 4B rows against the joint labels <c>k = y·4 + j</c>. No temperature.
/// </summary>
internal sealed class SelfSupervisedTeacherLoss : IDistillationLoss
{
    public IReadOnlyList<string> TermNames { get; } = new[] { "ce", "aux_ce" };

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => true;

    public bool UsesRotations => true;

    public LossResult Compute(LossBatch batch)
    {
        var main = LossFunctions.CrossEntropy(Rotations.Originals(batch.Student.Logits), batch.Labels);
        Tensor aux = zeros(1, device: main.device).squeeze();
        foreach (var q in batch.Student.AuxLogits)
            aux = aux + LossFunctions.CrossEntropy(q, batch.JointLabels);
        return new LossResult(main + aux, new[]
        {
            new KeyValuePair<string, Tensor>("ce", main),
            new KeyValuePair<string, Tensor>("aux_ce", aux),
        });
    }
}
