// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Options shared by every student: the network to train (default "wrn16_2") and the training schedule.</summary>
public class StudentOptions : DistillationTrainerOptions
{
    /// <summary>Default student architecture: "wrn16_2".</summary>
    public const string DefaultArchitecture = "wrn16_2";

    /// <summary>Creates options with the documented defaults.</summary>
    public StudentOptions()
    {
        Architecture = DefaultArchitecture;
    }
}

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
}

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
}
