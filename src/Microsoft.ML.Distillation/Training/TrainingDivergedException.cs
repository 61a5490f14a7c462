// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Training stopped because the loss became NaN or infinite. The message names the epoch and batch and suggests a lower learning rate.</summary>
public sealed class TrainingDivergedException : InvalidOperationException
{
    internal TrainingDivergedException(string message, int epoch, int? batch)
        : base(message)
    {
        Epoch = epoch;
        Batch = batch;
    }

    /// <summary>The 1-based epoch in which the loss stopped being finite.</summary>
    public int Epoch { get; }

    /// <summary>The 1-based batch within <see cref="Epoch"/>, when known (checked every step on the CPU, once per epoch on CUDA).</summary>
    public int? Batch { get; }
}
