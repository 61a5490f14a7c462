// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.FitNet</c>, hint learning (Romero et al., ICLR 2015) as RepDistiller trains it: one stage, the
/// student's hint map regressed to the teacher's by a small learned layer,
/// <c>L = CrossEntropyWeight · CE + HintWeight · mean((r(f_s) − f_t)²)</c> (plus optional KD, see <see cref="FeatureDistillationOptions"/>).
/// Defaults from RepDistiller: β = 100 on the middle stage, CE weight 1, no KD.
/// </summary>
public sealed class FitNetOptions : FeatureDistillationOptions
{
    /// <summary>Weight β of the hint term. Default 100 (RepDistiller).</summary>
    public double HintWeight = 100;

    /// <summary>
    /// 0-based stage whose map is the hint, the same index in both networks (see the Networks table for each network's stages).
    /// Default null: the middle stage of each network, (stages − 1) / 2 (the second of three, as RepDistiller's hint layer 2).
    /// </summary>
    public int? HintStage;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new FitNetEstimator(env, teacher, this);
}
