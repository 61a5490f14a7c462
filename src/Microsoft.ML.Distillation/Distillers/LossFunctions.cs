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

    /// <summary>
    /// <see cref="SoftenedKl(Tensor, Tensor, double)"/> with a learned temperature that may carry a gradient (CTKD's): a [1] tensor (one
    /// T for all rows: the same value as with a number), or [R, 1] (row r softened by T_r and weighted by T_r², then the batch mean).
    /// The gradient reaches the temperature through both the softening and the T² factor.
    /// </summary>
    public static Tensor SoftenedKl(Tensor studentLogits, Tensor teacherLogits, Tensor temperature)
    {
        using var scope = NewDisposeScope();
        var logPs = nn.functional.log_softmax(studentLogits / temperature, 1);
        var logPt = nn.functional.log_softmax(teacherLogits.detach() / temperature, 1);
        if (temperature.numel() == 1)
        {
            var kl = (logPt.exp() * (logPt - logPs)).sum() / studentLogits.shape[0];
            return (kl * temperature.square()).squeeze().MoveToOuterDisposeScope();
        }

        var perRow = (logPt.exp() * (logPt - logPs)).sum(1);
        return (perRow * temperature.square().view(-1)).mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="SoftenedKl(Tensor, Tensor, double)"/> over the rows where <paramref name="rowMask"/> is 1 only: the sum of the selected
    /// rows' KL divided by their number (batch-mean over the selection), times T². Zero when no row is selected.
    /// </summary>
    /// <param name="studentLogits">[R, C].</param>
    /// <param name="teacherLogits">[R, C], detached here.</param>
    /// <param name="temperature">T.</param>
    /// <param name="rowMask">[R] float, 1 for a selected row and 0 otherwise.</param>
    public static Tensor SoftenedKl(Tensor studentLogits, Tensor teacherLogits, double temperature, Tensor rowMask)
    {
        using var scope = NewDisposeScope();
        var logPs = nn.functional.log_softmax(studentLogits / temperature, 1);
        var logPt = nn.functional.log_softmax(teacherLogits.detach() / temperature, 1);
        var perRow = (logPt.exp() * (logPt - logPs)).sum(1);
        var kl = (perRow * rowMask).sum() / rowMask.sum().clamp_min(1);
        return (kl * (temperature * temperature)).MoveToOuterDisposeScope();
    }

    /// <summary>Mean cross-entropy of logits [R, K] against class indices [R].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
        => nn.functional.cross_entropy(logits, targets);
}
