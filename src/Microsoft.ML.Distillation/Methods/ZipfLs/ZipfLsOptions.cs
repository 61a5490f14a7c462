// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.ZipfLabelSmoothing</c>, Zipf's label smoothing (Liang et al., ECCV 2022): self-distillation
/// with no teacher, <c>L = CE + Weight · KL(q ‖ p)</c> over the non-target classes, q following Zipf's law over the network's own
/// ranking of the classes. Defaults from the authors' code: λ = 1 (their CIFAR-100 commands use 0.1), power 1, dense votes with
/// bilinear x2 upsampling.
/// </summary>
public sealed class ZipfLsOptions : StudentOptions
{
    /// <summary>Weight λ of the Zipf term. Default 1 (the reference's argument default; 0.1 in its CIFAR-100 and ImageNet commands).</summary>
    public double Weight = 1;

    /// <summary>Exponent of the rank in the soft target, <c>q ∝ rank^(−Power)</c>. Default 1.</summary>
    public double Power = 1;

    /// <summary>
    /// Rank the classes by the votes of the main head applied at every position of the last stage map (default true, the paper's
    /// dense ranking); false ranks by the logits. Networks whose last stage map does not have the head's input width rank by the
    /// logits whatever this says (logged).
    /// </summary>
    public bool DenseRanking = true;

    /// <summary>Upsample the last map bilinearly x2 before voting (the reference's CIFAR setting). Default true.</summary>
    public bool UpsampleMap = true;

    /// <summary>The estimator these options describe; it trains without the teacher (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new ZipfLsEstimator(env, this);
}
