// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.SimReg</c>, feature regression with an MLP head (Navaneet et al., BMVC 2021): a predictor on
/// the student's pooled embedding regresses the teacher's (cosine form, 2 − 2·cos), and is discarded after training,
/// <c>L = CrossEntropyWeight · CE + RegressionWeight · L_reg</c> (plus optional KD, see <see cref="FeatureDistillationOptions"/>).
/// The paper distils self-supervised teachers without labels; here the student also has its labels (CE weight 1), and the
/// regression weight 1 is our default, not the paper's.
/// </summary>
public sealed class SimRegOptions : FeatureDistillationOptions
{
    /// <summary>Weight β of the regression term (between 0 and 4 per sample). Default 1 (ours).</summary>
    public double RegressionWeight = 1;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new SimRegEstimator(env, teacher, this);
}
