// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Msfd</c>, contrastive distillation through multi-scale feature decoupling (Wang, Chen, Wang,
/// arXiv 2502.05835), <b>our reading of the paper</b>: its method section and code were not available, so the scales, the two
/// contrastive terms and every default below are a reconstruction from the abstracts (distillers-more.md §7), not the authors' values.
/// <c>L = CrossEntropyWeight · CE + SampleWeight · L_sample + FeatureWeight · L_feature</c> (plus optional KD, see
/// <see cref="FeatureDistillationOptions"/>).
/// </summary>
public sealed class MsfdOptions : FeatureDistillationOptions
{
    /// <summary>Weight of the sample-wise contrastive term. Default 1 (ours).</summary>
    public double SampleWeight = 1;

    /// <summary>Weight of the feature-wise (channel) contrastive term. Default 1 (ours).</summary>
    public double FeatureWeight = 1;

    /// <summary>Temperature τ of both contrastive terms. Default 0.1 (ours).</summary>
    public double ContrastTemperature = 0.1;

    /// <summary>The scales: each stage map is average-pooled onto g x g grids for every g here. Default {1, 2, 4} (ours).</summary>
    public int[] Grids = [1, 2, 4];

    /// <summary>
    /// Decouple every stage pair (the first min(count) stages of each network, as the v1 paper's figure suggests) instead of the last
    /// stage only. Default false.
    /// </summary>
    public bool AllStages;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new MsfdEstimator(env, teacher, this);
}
