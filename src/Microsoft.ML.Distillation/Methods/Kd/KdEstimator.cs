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
public sealed class KdEstimator : DistillingEstimatorBase<KdOptions>
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

    private protected override IDistillationLoss CreateLoss()
        => new KdLoss(Options.Temperature, Options.CrossEntropyWeight, Options.DistillationWeight,
            CurriculumTemperature.From(Options.CurriculumTemperature, Options.Epochs));
}
