// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Pkt</c>, probabilistic knowledge transfer (Passalis and Tefas, ECCV 2018): the student's
/// distribution of cosine affinities between the batch's pooled embeddings follows the teacher's,
/// <c>L = CrossEntropyWeight · CE + TransferWeight · L_PKT</c> (plus optional KD, see <see cref="FeatureDistillationOptions"/>).
/// Defaults from RepDistiller: β = 30000, CE weight 1, no KD.
/// </summary>
public sealed class PktOptions : FeatureDistillationOptions
{
    /// <summary>Weight β of the PKT term. Default 30000 (RepDistiller).</summary>
    public double TransferWeight = 30000;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new PktEstimator(env, teacher, this);
}
