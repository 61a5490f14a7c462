// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.At;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Attention transfer (Zagoruyko and Komodakis, ICLR 2017): the student's spatial attention maps follow the teacher's at every stage.
/// Create it with <c>mlContext.Distillation.At</c>. Any teacher and student families: channel counts may differ, the larger of two
/// maps is average-pooled to the smaller, stages are paired shallow to deep (the first min(count) of each network).
/// </summary>
public sealed class AtEstimator : FeatureDistillationEstimatorBase<AtOptions>
{
    internal AtEstimator(IHostEnvironment env, ITransformer teacher, AtOptions options)
        : base(env, options, "AT", teacher)
    {
        LossOptionsValidation.CheckWeight(options.AttentionWeight, nameof(options.AttentionWeight));
        if (!(options.Power > 0) || double.IsInfinity(options.Power))
            throw new ArgumentOutOfRangeException(nameof(options.Power), options.Power, "Power must be a positive, finite number (2 in the paper).");
    }

    private protected override IDistillationLoss CreateLoss()
        => new AtLoss(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.AttentionWeight, Options.Power);
}
