// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Kd;

/// <summary>
/// Vanilla knowledge distillation (Hinton et al., 2015; distillers.md §2): <c>L = γ · CE(z_s, y) + α · T² · KL(p_t^T ‖ p_s^T)</c>,
/// batch-mean, on the original (unrotated) images. RepDistiller's defaults: T = 4, γ = 0.1, α = 0.9.
/// </summary>
internal sealed class KdLoss : IDistillationLoss
{
    public KdLoss(double temperature, double crossEntropyWeight, double distillationWeight, CurriculumTemperature? curriculum = null)
    {
        Curriculum = curriculum;
        Temperature = temperature;
        CrossEntropyWeight = crossEntropyWeight;
        DistillationWeight = distillationWeight;
    }

    public double Temperature { get; }
    public double CrossEntropyWeight { get; }
    public double DistillationWeight { get; }

    /// <summary>CTKD's learned temperature, used instead of <see cref="Temperature"/> when set.</summary>
    public CurriculumTemperature? Curriculum { get; }

    public nn.Module? TrainableModule => Curriculum;

    public IReadOnlyDictionary<string, double>? EpochDiagnostics() => Curriculum?.Diagnostics();

    public IReadOnlyList<string> TermNames { get; } = new[] { "ce", "kd" };

    public bool RequiresTeacher => true;

    public bool ReadsTeacherLogitsOnly => true;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException("KD needs the teacher's outputs.");
        var ce = LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels) * CrossEntropyWeight;
        var kd = (Curriculum is null
            ? LossFunctions.SoftenedKl(batch.Student.Logits, teacher.Logits, Temperature)
            : LossFunctions.SoftenedKl(batch.Student.Logits, teacher.Logits, Curriculum.Temperature(batch.Step, batch.Student.Logits, teacher.Logits))) * DistillationWeight;
        return new LossResult(ce + kd, new[]
        {
            new KeyValuePair<string, Tensor>("ce", ce),
            new KeyValuePair<string, Tensor>("kd", kd),
        });
    }
}
