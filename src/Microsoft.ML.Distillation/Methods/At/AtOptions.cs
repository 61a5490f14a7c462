// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.At</c>, attention transfer (Zagoruyko and Komodakis, ICLR 2017): the student's spatial
/// attention maps (channel mean of the p-th power of each stage map, L2-normalised) follow the teacher's at every stage,
/// <c>L = CrossEntropyWeight · CE + AttentionWeight · Σ_stages mean((a_s − a_t)²)</c> (plus optional KD, see
/// <see cref="FeatureDistillationOptions"/>). Defaults from RepDistiller: β = 1000, p = 2, CE weight 1, no KD.
/// </summary>
public sealed class AtOptions : FeatureDistillationOptions
{
    /// <summary>Weight β of the attention term. Default 1000 (RepDistiller).</summary>
    public double AttentionWeight = 1000;

    /// <summary>Power p of the activations in the attention map. Default 2.</summary>
    public double Power = 2;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new AtEstimator(env, teacher, this);
}
