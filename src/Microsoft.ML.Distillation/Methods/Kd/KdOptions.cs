// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Estimators;
namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Kd</c>, vanilla knowledge distillation (Hinton et al., 2015):
/// <c>L = CrossEntropyWeight · CE + DistillationWeight · T² · KL(p_t^T ‖ p_s^T)</c>; defaults T = 4, 0.1 and 0.9 (RepDistiller).
/// </summary>
public sealed class KdOptions : StudentOptions
{
    /// <summary>Temperature T. Default 4.</summary>
    public double Temperature = 4;

    /// <summary>Weight γ of the cross-entropy with the labels. Default 0.1.</summary>
    public double CrossEntropyWeight = 0.1;

    /// <summary>Weight α of the distillation term. Default 0.9.</summary>
    public double DistillationWeight = 0.9;

    /// <summary>
    /// CTKD's learned curriculum temperature for the distillation terms, replacing <see cref="Temperature"/>; null (default) keeps the fixed
    /// temperature. See <see cref="CurriculumTemperatureOptions"/>.
    /// </summary>
    public CurriculumTemperatureOptions? CurriculumTemperature;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new KdEstimator(env, teacher, this);
}
