// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Estimators;
namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Hsakd</c> (hsakd-sskd.md §2.5): <c>L = w_ce·CE + w_aux·Σ_l KL_T(aux_l) + w_kl·KL_T(main)</c>
/// with T = 3 and every weight 1, as in the paper's code.
/// </summary>
public sealed class HsakdOptions : StudentOptions
{
    /// <summary>Temperature T of the mimicry terms (each KL is multiplied by T²). Default 3.</summary>
    public double Temperature = 3;

    /// <summary>Weight of the task cross-entropy on the unrotated images. Default 1.</summary>
    public double CrossEntropyWeight = 1;

    /// <summary>Weight of the summed KL terms between paired auxiliary branches (joint class x rotation distributions). Default 1.</summary>
    public double AuxiliaryDistillationWeight = 1;

    /// <summary>Weight of the KL term between the main heads over all rotated copies. Default 1.</summary>
    public double DistillationWeight = 1;

    /// <summary>
    /// CTKD's learned curriculum temperature for the distillation terms, replacing <see cref="Temperature"/>; null (default) keeps the fixed
    /// temperature. See <see cref="CurriculumTemperatureOptions"/>.
    /// </summary>
    public CurriculumTemperatureOptions? CurriculumTemperature;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new HsakdEstimator(env, teacher, this);
}
