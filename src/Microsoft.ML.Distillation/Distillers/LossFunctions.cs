// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Distillers;

/// <summary>The building blocks the distillers share.</summary>
internal static class LossFunctions
{
    /// <summary>
    /// Softened KL divergence ("KD loss"): <c>T² · (1/R) · Σ_r Σ_c p_t · (log p_t − log p_s)</c> with
    /// <c>p = softmax(z / T)</c>, batch-mean over the R rows. The teacher side is detached.
    /// </summary>
    public static Tensor SoftenedKl(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        using var scope = NewDisposeScope();
        var logPs = nn.functional.log_softmax(studentLogits / temperature, 1);
        var logPt = nn.functional.log_softmax(teacherLogits.detach() / temperature, 1);
        var kl = (logPt.exp() * (logPt - logPs)).sum() / studentLogits.shape[0];
        return (kl * (temperature * temperature)).MoveToOuterDisposeScope();
    }

    /// <summary>Mean cross-entropy of logits [R, K] against class indices [R].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
        => nn.functional.cross_entropy(logits, targets);
}
