// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>
/// CTKD's curriculum temperature (Li et al., "Curriculum Temperature for Knowledge Distillation", AAAI 2023), for the logit
/// distillation terms of <see cref="KdOptions"/>, <see cref="DkdOptions"/> and <see cref="HsakdOptions"/>: the fixed temperature is
/// replaced by a learned one, <c>τ = MinTemperature + TemperatureRange · sigmoid(θ)</c> with θ a scalar (initially 1) trained in the
/// student's optimiser through a gradient-reversal layer, so that τ moves to make distillation harder while the student makes it
/// easier. The reversal's strength λ follows a cosine curriculum from 0 to −1 over the first <see cref="CurriculumEpochs"/> epochs.
/// </summary>
/// <remarks>
/// <para>Global variant (one τ for all samples, as in the authors' code) by default; see <see cref="InstanceWise"/>. Every KL term of the method uses τ, including its τ² factor
/// (for HSAKD: the main head's and every auxiliary head's, which is our port; no published result combines HSAKD with CTKD).</para>
/// <para>The temperature of each epoch is reported in <see cref="TrainingMetrics.Diagnostics"/> as <c>temperature</c>.</para>
/// </remarks>
public sealed class CurriculumTemperatureOptions
{
    /// <summary>Lower bound of τ. Default 1.</summary>
    public double MinTemperature = 1;

    /// <summary>Width of τ's range: τ ∈ (MinTemperature, MinTemperature + TemperatureRange). Default 20 (τ ∈ (1, 21)).</summary>
    public double TemperatureRange = 20;

    /// <summary>
    /// Epochs over which λ goes from 0 to −1: in (1-based) epoch e, <c>λ = (cos(π · min(e, L) / L) + 1) / 2 − 1</c>. Default null: the
    /// paper's 10 of 240 epochs scaled to <see cref="TrainingOptions.Epochs"/>, L = ⌈Epochs / 24⌉ (10 for 240 epochs; 1, a
    /// full reversal from the first epoch, for 24 or fewer).
    /// </summary>
    public int? CurriculumEpochs;

    /// <summary>
    /// False (default): the global variant, one τ for all samples, as in the authors' released code. True: the instance-wise variant, a
    /// τ per sample predicted from its teacher and student logits by a small network (<c>Linear(2K, 128) → ReLU → Linear(128, 1)</c>,
    /// our design: the paper's is not released), each sample's KL weighted by its own τ²; then <c>temperature</c> in the diagnostics is
    /// the epoch's mean τ, beside <c>temperature_min</c> and <c>temperature_max</c>. Available with Kd and Dkd; HSAKD refuses it (its
    /// heads predict different label sets).
    /// </summary>
    public bool InstanceWise;
}
