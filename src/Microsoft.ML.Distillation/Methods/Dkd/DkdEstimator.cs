// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Dkd;
using Microsoft.ML.Distillation.Methods.Ctkd;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Decoupled knowledge distillation (Zhao et al., CVPR 2022): KD split into a target-class term and a non-target-class term,
/// weighted independently, with a linear warm-up of both. Create it with <c>mlContext.Distillation.Dkd</c>. Any teacher and student
/// families; logits only.
/// </summary>
public sealed class DkdEstimator : TeacherStudentEstimatorBase<DkdOptions>
{
    internal DkdEstimator(IHostEnvironment env, ITransformer teacher, DkdOptions options)
        : base(env, options, "DKD", teacher)
    {
        LossOptionsValidation.CheckTemperature(options.Temperature);
        CurriculumTemperature.Validate(options.CurriculumTemperature);
        LossOptionsValidation.CheckWeight(options.CrossEntropyWeight, nameof(options.CrossEntropyWeight));
        LossOptionsValidation.CheckWeight(options.TargetWeight, nameof(options.TargetWeight));
        LossOptionsValidation.CheckWeight(options.NonTargetWeight, nameof(options.NonTargetWeight));
        if (options.WarmupEpochs is int w && w < 1)
            throw new ArgumentOutOfRangeException(nameof(options.WarmupEpochs), w, "WarmupEpochs must be at least 1 (1: no warm-up), or null for the paper's 20 of 240 epochs scaled to Epochs.");
    }

    private protected override bool PairsAuxiliaryBranches => false;

    private protected override IDistillationLoss CreateLoss() => Loss(curriculum: null);

    /// <summary>The learned temperature, if any, is created here: after the training seed is set, so its initialisation is seeded.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
        => Options.CurriculumTemperature is null ? loss : Loss(CurriculumTemperature.From(Options.CurriculumTemperature, Options.Epochs, Teacher!.ClassCount));

    private DkdLoss Loss(CurriculumTemperature? curriculum)
        => new(Options.Temperature, Options.CrossEntropyWeight, Options.TargetWeight, Options.NonTargetWeight,
            Options.WarmupEpochs ?? DkdLoss.ScaledWarmupEpochs(Options.Epochs), curriculum);
}
