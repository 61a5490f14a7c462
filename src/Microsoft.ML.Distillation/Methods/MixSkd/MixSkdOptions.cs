// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.MixSkd</c>, MixSKD (Yang et al., ECCV 2022): self-distillation with no teacher, from mixup
/// pairs: the network's outputs on mixed images must agree with the mix of its outputs on the originals, at its auxiliary branches,
/// its final maps and a self-teacher built from all of them. Loss defaults from the authors' CIFAR code: mixup α = 0.4, T = 3, unit
/// weights. The schedule is <see cref="TrainingOptions"/>' (LR 0.05, decays at 62.5/75/87.5% of the epochs), not the code's (LR 0.1,
/// decays at epochs 100 and 150 of 200 after the warm-up).
/// The code's learning-rate warm-up is the default (<see cref="TrainingOptions.LearningRateWarmupEpochs"/>: 5 of 205 epochs, scaled); its
/// discriminators (untrained in the released code) are not implemented.
/// </summary>
public sealed class MixSkdOptions : StudentOptions
{
    /// <summary>α of the Beta(α, α) mixing weight λ, one λ per step. Default 0.4 (CIFAR; the ImageNet script uses 0.2).</summary>
    public double MixupAlpha = 0.4;

    /// <summary>Temperature T of the KL terms. Default 3.</summary>
    public double Temperature = 3;

    /// <summary>The estimator these options describe; it trains without the teacher (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new MixSkdEstimator(env, this);
}
