// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Mgd</c>, multi-granularity distillation on a KD base (Shao &amp; Chen, "Multi-granularity for
/// knowledge distillation"): the teacher's output re-expressed through a narrow (64) and a wide (256) bottleneck, learned in a pre-stage
/// on the frozen teacher, and matched by the student's own encoders, beside KD:
/// <c>L = CrossEntropyWeight · CE + DistillationWeight · T² · KL(target ‖ z_s) + GranularityWeight · (2² · KL(c_t^64 ‖ c_s^64) + 8² · KL(c_t^256 ‖ c_s^256))</c>.
/// Defaults from the authors' code and KD scripts: T = 4, weights 0.2, 0.8 and 1, codes 64 and 256 at T = 2 and 8, stable excitation on,
/// a 60-epoch branch stage at learning rate 0.01.
/// </summary>
/// <remarks>
/// The reference keeps each branch's checkpoint that scores best on the test split; this library keeps the last one (it never looks at
/// test data). With <see cref="Contrast"/> set, MGD runs on a CRD base (the paper's "+CRD" rows).
/// </remarks>
public sealed class MgdOptions : StudentOptions
{
    /// <summary>Temperature T of the logit term. Default 4.</summary>
    public double Temperature = 4;

    /// <summary>Weight γ of the cross-entropy with the labels. Default 0.2 (the reference's KD script).</summary>
    public double CrossEntropyWeight = 0.2;

    /// <summary>Weight α of the logit distillation term. Default 0.8 (the reference's KD script).</summary>
    public double DistillationWeight = 0.8;

    /// <summary>Weight of each of the two code-matching terms (narrow and wide). Default 1.</summary>
    public double GranularityWeight = 1;

    /// <summary>
    /// True (default): "stable excitation" (the reference's MAS): the logit term's target is the mean of the teacher's logits and its two
    /// branches' decoded logits, detached. False: the teacher's logits (MAG). Only the logit term changes.
    /// </summary>
    public bool StableExcitation = true;

    /// <summary>Size of the narrow ("high-pressure") code. Default 64.</summary>
    public int NarrowCodeSize = 64;

    /// <summary>Temperature of the narrow branch, in the pre-stage and in the code-matching term. Default 2.</summary>
    public double NarrowTemperature = 2;

    /// <summary>Size of the wide ("low-pressure") code. Default 256.</summary>
    public int WideCodeSize = 256;

    /// <summary>Temperature of the wide branch, in the pre-stage and in the code-matching term. Default 8.</summary>
    public double WideTemperature = 8;

    /// <summary>
    /// Epochs of the pre-stage that trains the teacher's two branches on the frozen teacher. Default 60, the reference's; shorten it with
    /// the rest of the schedule. The learning rate drops x0.1 at half and three quarters of it (30 and 45 of 60). The trained branches are
    /// cached with the teacher object: further MGD students over the same data and settings reuse them.
    /// </summary>
    public int TeacherBranchEpochs = 60;

    /// <summary>
    /// MGD on a CRD base (the paper's "+CRD" rows) when set: the CRD term of these options (their <see cref="CrdOptions.ContrastWeight"/>,
    /// <see cref="CrdOptions.NegativeCount"/>, <see cref="CrdOptions.EmbeddingWidth"/>, <see cref="CrdOptions.ContrastTemperature"/> and
    /// <see cref="CrdOptions.MemoryMomentum"/>; the rest of them is ignored) is added on the raw embeddings. The reference's CRD script
    /// also sets <see cref="CrossEntropyWeight"/> and <see cref="DistillationWeight"/> to 1 (set them too). Default null: the KD base.
    /// </summary>
    public CrdOptions? Contrast;

    /// <summary>Initial learning rate of the branch pre-stage. Default 0.01, the reference's. Momentum, weight decay and batch size are the student's.</summary>
    public double TeacherBranchLearningRate = 0.01;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new MgdEstimator(env, teacher, this);
}
