// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Rkd;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Relational knowledge distillation (Park et al., CVPR 2019): distances and angles between the batch's pooled embeddings. Create it
/// with <c>mlContext.Distillation.Rkd</c>. Any teacher and student families (embedding widths may differ).
/// </summary>
public sealed class RkdEstimator : FeatureDistillationEstimatorBase<RkdOptions>
{
    internal RkdEstimator(IHostEnvironment env, ITransformer teacher, RkdOptions options)
        : base(env, options, "RKD", teacher)
    {
        LossOptionsValidation.CheckWeight(options.DistanceWeight, nameof(options.DistanceWeight));
        LossOptionsValidation.CheckWeight(options.AngleWeight, nameof(options.AngleWeight));
    }

    private protected override IDistillationLoss CreateLoss()
        => new RkdLoss(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.DistanceWeight, Options.AngleWeight);
}
