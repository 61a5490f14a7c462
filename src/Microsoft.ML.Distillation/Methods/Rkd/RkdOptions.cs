// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Rkd</c>, relational KD (Park, Kim, Lu, Cho, CVPR 2019): the student keeps the teacher's
/// normalised pairwise distances and triplet angles between the batch's pooled embeddings,
/// <c>L = CrossEntropyWeight · CE + DistanceWeight · L_distance + AngleWeight · L_angle</c> (smooth-L1 each; plus optional KD, see
/// <see cref="FeatureDistillationOptions"/>). Defaults from RepDistiller: 25 and 50, CE weight 1, no KD. The angle term grows
/// with the cube of the batch size.
/// </summary>
public sealed class RkdOptions : FeatureDistillationOptions
{
    /// <summary>Weight of the distance term. Default 25 (RepDistiller).</summary>
    public double DistanceWeight = 25;

    /// <summary>Weight of the angle term. Default 50 (RepDistiller).</summary>
    public double AngleWeight = 50;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new RkdEstimator(env, teacher, this);
}
