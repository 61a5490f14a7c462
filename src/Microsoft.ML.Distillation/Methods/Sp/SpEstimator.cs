// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Sp;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Similarity-preserving knowledge distillation (Tung and Mori, ICCV 2019): the batch's similarity matrix of the last stage map is
/// transferred. Create it with <c>mlContext.Distillation.Sp</c>. Any teacher and student families (the B x B matrices need no adapter).
/// </summary>
public sealed class SpEstimator : FeatureDistillationEstimatorBase<SpOptions>
{
    internal SpEstimator(IHostEnvironment env, ITransformer teacher, SpOptions options)
        : base(env, options, "SP", teacher)
    {
        LossOptionsValidation.CheckWeight(options.SimilarityWeight, nameof(options.SimilarityWeight));
    }

    private protected override IDistillationLoss CreateLoss()
        => new SpLoss(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.SimilarityWeight);
}
