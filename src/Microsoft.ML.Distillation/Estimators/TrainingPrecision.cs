// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Numeric precision of the network being trained (<see cref="TrainingOptions.Precision"/>).</summary>
public enum TrainingPrecision
{
    /// <summary>Everything in float32.</summary>
    Float32 = 0,

    /// <summary>
    /// bfloat16 mixed precision: the weights, the optimiser's state, checkpoints and the fitted model stay float32; each step's forward
    /// and backward pass run on a copy whose convolution and linear weights are bfloat16 (batch norms, their statistics, the losses and
    /// softmaxes stay float32). Used where bfloat16 is fast: on CUDA, and on CPUs with AVX512-BF16 or AMX; elsewhere training runs in
    /// float32 with a warning in the log.
    /// </summary>
    BFloat16Mixed = 1,
}
