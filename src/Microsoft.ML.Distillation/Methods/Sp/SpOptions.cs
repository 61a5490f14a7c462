// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Sp</c>, similarity-preserving KD (Tung and Mori, ICCV 2019): the student keeps the teacher's
/// pairwise similarities of the batch's images on the last stage map,
/// <c>L = CrossEntropyWeight · CE + SimilarityWeight · (1/B²) · ‖Ĝ_t − Ĝ_s‖_F²</c> (plus optional KD, see
/// <see cref="FeatureDistillationOptions"/>). Defaults from RepDistiller: β = 3000, CE weight 1, no KD.
/// </summary>
public sealed class SpOptions : FeatureDistillationOptions
{
    /// <summary>Weight β of the similarity term. Default 3000 (RepDistiller).</summary>
    public double SimilarityWeight = 3000;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new SpEstimator(env, teacher, this);
}
