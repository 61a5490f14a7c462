// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Methods.Hsakd;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// HSAKD student (hsakd-sskd.md §2.5): the student and its auxiliary branches see every image at four rotations; each student
/// branch mimics the teacher's joint (class x rotation) distribution of the same depth, and the main head mimics the teacher's
/// class distribution on all rotated copies, beside the task cross-entropy. Create it with <c>mlContext.Distillation.Hsakd</c>.
/// At inference the student carries no auxiliary branches.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `Image` (input) | as the teacher's (same shape and preprocessing; square) | training images |
/// | `Label` (input) | key, the same classes in the same order as the teacher's | the class |
/// | `Score`, `PredictedLabel` (output) | `Vector<Single>` of K, key | as every classifier of this library |
///
/// The teacher and student must have the same number of auxiliary branches (WRN and CIFAR ResNet: 3; VGG: 4).
/// ]]></format>
/// </remarks>
public sealed class HsakdEstimator : TeacherStudentEstimatorBase<HsakdOptions>
{
    internal HsakdEstimator(IHostEnvironment env, ITransformer teacher, HsakdOptions options)
        : base(env, options, "HSAKD", teacher)
    {
        LossOptionsValidation.CheckTemperature(options.Temperature);
        CurriculumTemperature.Validate(options.CurriculumTemperature);
        if (options.CurriculumTemperature is { InstanceWise: true })
            throw new ArgumentException(
                "CurriculumTemperature.InstanceWise is not available with HSAKD: its heads predict different label sets (the classes, and the " +
                "joint class x rotation labels of the auxiliary branches), so no single per-sample temperature network fits them. Use the " +
                "global curriculum temperature (InstanceWise = false), or the instance-wise one with Kd or Dkd.",
                $"{nameof(HsakdOptions.CurriculumTemperature)}.{nameof(CurriculumTemperatureOptions.InstanceWise)}");
        LossOptionsValidation.CheckWeight(options.CrossEntropyWeight, nameof(options.CrossEntropyWeight));
        LossOptionsValidation.CheckWeight(options.AuxiliaryDistillationWeight, nameof(options.AuxiliaryDistillationWeight));
        LossOptionsValidation.CheckWeight(options.DistillationWeight, nameof(options.DistillationWeight));
        CheckAuxiliaryPairing();
    }

    private protected override bool PairsAuxiliaryBranches => true;

    private protected override IDistillationLoss CreateLoss() => Loss(curriculum: null);

    /// <summary>The learned temperature, if any, is created here: after the training seed is set, so its initialisation is seeded.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
        => Options.CurriculumTemperature is null ? loss : Loss(CurriculumTemperature.From(Options.CurriculumTemperature, Options.Epochs, Teacher!.ClassCount));

    private HsakdLoss Loss(CurriculumTemperature? curriculum)
        => new(Options.Temperature, Options.CrossEntropyWeight, Options.AuxiliaryDistillationWeight, Options.DistillationWeight, curriculum);
}
