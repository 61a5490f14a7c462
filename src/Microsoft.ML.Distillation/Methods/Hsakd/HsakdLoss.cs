// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Hsakd;

/// <summary>
/// HSAKD student loss (hsakd-sskd.md §2.5), over a rotation-expanded batch of 4B rows:
/// <code>
/// L = w_ce · CE(z_s[0::4], y)                      task loss on the B unrotated rows, τ = 1
///   + w_aux · Σ_l KL_T(q_l^S, q_l^T)               every auxiliary pair l, all 4B rows, 4K-way
///   + w_kl · KL_T(z_s, z_t)                         main heads, all 4B rows (rotated ones too), K-way
/// </code>
/// each KL_T batch-mean over the 4B rows times T². Branch l of the teacher pairs with branch l of the student.
/// </summary>
internal sealed class HsakdLoss : IDistillationLoss
{
    public HsakdLoss(double temperature, double crossEntropyWeight, double auxiliaryWeight, double mainWeight, CurriculumTemperature? curriculum = null)
    {
        Curriculum = curriculum;
        Temperature = temperature;
        CrossEntropyWeight = crossEntropyWeight;
        AuxiliaryWeight = auxiliaryWeight;
        MainWeight = mainWeight;
    }

    public double Temperature { get; }
    public double CrossEntropyWeight { get; }
    public double AuxiliaryWeight { get; }
    public double MainWeight { get; }

    /// <summary>CTKD's learned temperature, used instead of <see cref="Temperature"/> in every KL term when set.</summary>
    public CurriculumTemperature? Curriculum { get; }

    public nn.Module? TrainableModule => Curriculum;

    public IReadOnlyDictionary<string, double>? EpochDiagnostics() => Curriculum?.Diagnostics();

    public IReadOnlyList<string> TermNames { get; } = new[] { "ce", "aux_kl", "kl" };

    public bool RequiresTeacher => true;

    public bool UsesAuxiliaryBranches => true;

    public bool UsesRotations => true;

    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException("HSAKD needs the teacher's outputs.");
        var student = batch.Student;
        if (student.AuxLogits.Count != teacher.AuxLogits.Count)
            throw new InvalidOperationException(
                $"HSAKD pairs auxiliary branches one-to-one, but the student has {student.AuxLogits.Count} and the teacher {teacher.AuxLogits.Count}.");

        var ce = LossFunctions.CrossEntropy(Rotations.Originals(student.Logits), batch.Labels) * CrossEntropyWeight;
        var learned = Curriculum?.Temperature(batch.Step, student.Logits, teacher.Logits);
        Tensor Kl(Tensor s, Tensor t) => learned is null ? LossFunctions.SoftenedKl(s, t, Temperature) : LossFunctions.SoftenedKl(s, t, learned);
        Tensor aux = zeros(1, device: ce.device).squeeze();
        for (int l = 0; l < student.AuxLogits.Count; l++)
            aux = aux + Kl(student.AuxLogits[l], teacher.AuxLogits[l]);
        aux = aux * AuxiliaryWeight;
        var kl = Kl(student.Logits, teacher.Logits) * MainWeight;
        return new LossResult(ce + aux + kl, new[]
        {
            new KeyValuePair<string, Tensor>("ce", ce),
            new KeyValuePair<string, Tensor>("aux_kl", aux),
            new KeyValuePair<string, Tensor>("kl", kl),
        });
    }
}
