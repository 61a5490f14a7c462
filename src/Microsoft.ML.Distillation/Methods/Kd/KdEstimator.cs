// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Methods.Kd;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Vanilla knowledge distillation (Hinton et al., 2015): the student's softened class distribution mimics the teacher's
/// (T = 4), beside a small cross-entropy term. Create it with <c>mlContext.Distillation.Kd</c>.
/// </summary>
public sealed class KdEstimator : TeacherStudentEstimatorBase<KdOptions>
{
    internal KdEstimator(IHostEnvironment env, ITransformer teacher, KdOptions options)
        : base(env, options, "KD", teacher)
    {
        LossOptionsValidation.CheckTemperature(options.Temperature);
        CurriculumTemperature.Validate(options.CurriculumTemperature);
        LossOptionsValidation.CheckWeight(options.CrossEntropyWeight, nameof(options.CrossEntropyWeight));
        LossOptionsValidation.CheckWeight(options.DistillationWeight, nameof(options.DistillationWeight));
    }

    private protected override bool PairsAuxiliaryBranches => false;

    private protected override IDistillationLoss CreateLoss() => Loss(curriculum: null);

    /// <summary>The learned temperature, if any, is created here: after the training seed is set, so its initialisation is seeded.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
        => Options.CurriculumTemperature is null ? loss : Loss(CurriculumTemperature.From(Options.CurriculumTemperature, Options.Epochs, Teacher!.ClassCount));

    private KdLoss Loss(CurriculumTemperature? curriculum)
        => new(Options.Temperature, Options.CrossEntropyWeight, Options.DistillationWeight, curriculum);
}
