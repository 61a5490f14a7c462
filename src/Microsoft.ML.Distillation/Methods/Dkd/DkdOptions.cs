// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Estimators;
namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Dkd</c>, decoupled knowledge distillation (Zhao et al., CVPR 2022):
/// <c>L = CrossEntropyWeight · CE + w(epoch) · (TargetWeight · TCKD + NonTargetWeight · NCKD)</c>, where TCKD is the KL of the
/// binary (target class, all other classes) distributions and NCKD the KL of the distributions over the non-target classes, both
/// softened by T and multiplied by T². Defaults from the authors' code (mdistiller): T = 4, α = 1, β = 8, CE weight 1, a linear
/// warm-up of the distillation weight over 20 of 240 epochs.
/// </summary>
/// <remarks>
/// The paper tunes β per pair: 8 for ResNet32x4 → ResNet8x4 (the default), 2 for ResNet56 → ResNet20 and ResNet110 → ResNet32,
/// 6 for WRN and VGG pairs.
/// </remarks>
public sealed class DkdOptions : StudentOptions
{
    /// <summary>Temperature T of both terms. Default 4.</summary>
    public double Temperature = 4;

    /// <summary>Weight of the cross-entropy with the labels. Default 1.</summary>
    public double CrossEntropyWeight = 1;

    /// <summary>Weight α of the target-class term (TCKD). Default 1.</summary>
    public double TargetWeight = 1;

    /// <summary>Weight β of the non-target-class term (NCKD). Default 8.</summary>
    public double NonTargetWeight = 8;

    /// <summary>
    /// Epochs over which the weight of both distillation terms rises linearly to 1: in (1-based) epoch e it is min(e / W, 1), as in
    /// the authors' code. Default null: the paper's 20 of 240 epochs scaled to <see cref="TrainingOptions.Epochs"/>,
    /// W = ⌈Epochs / 12⌉ (20 for 240 epochs, 1 for 12 or fewer, i.e. no warm-up in short runs).
    /// </summary>
    public int? WarmupEpochs;

    /// <summary>
    /// CTKD's learned curriculum temperature for the distillation terms, replacing <see cref="Temperature"/>; null (default) keeps the fixed
    /// temperature. See <see cref="CurriculumTemperatureOptions"/>.
    /// </summary>
    public CurriculumTemperatureOptions? CurriculumTemperature;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new DkdEstimator(env, teacher, this);
}
