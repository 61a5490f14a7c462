// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// SSKD's selective transfer by error-level ranking (hsakd-sskd.md §3.4). Each row r has scores over C candidates (a teacher's logits
/// or similarities) and a target column t_r. Its rank is the number of candidates scored strictly higher than the target
/// (0 = the teacher is right; ties count in the target's favour). Every correct row is kept, plus the ⌊ratio · #wrong⌋ wrong rows
/// whose targets rank closest to the top; among equal ranks the earlier row wins. The rest are dropped from the transfer.
/// </summary>
/// <remarks>Everything stays on the device (no host synchronisation): the selection is returned as a 0/1 row mask.</remarks>
internal static class ErrorLevelSelection
{
    /// <summary>Rank of each row's target among its scores: how many candidates score strictly higher. [R] int64.</summary>
    public static Tensor TargetRanks(Tensor scores, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var targetScores = scores.gather(1, targets.unsqueeze(1));
        return scores.gt(targetScores).sum(1, type: ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Float mask [R] with 1 on the kept rows and 0 elsewhere.
    /// </summary>
    /// <param name="scores">[R, C] teacher scores (a monotone transform such as softmax does not change the selection).</param>
    /// <param name="targets">[R] int64 target column per row.</param>
    /// <param name="ratio">Share of the wrong rows to keep, in [0, 1] (SSKD: 1.0 for the rotated-view KD term, 0.75 for the similarity term).</param>
    public static Tensor Mask(Tensor scores, Tensor targets, double ratio)
    {
        if (scores.dim() != 2 || targets.dim() != 1 || targets.shape[0] != scores.shape[0])
            throw new ArgumentException(
                $"Expected scores [R, C] and targets [R]; got [{string.Join(", ", scores.shape)}] and [{string.Join(", ", targets.shape)}].");
        if (!(ratio >= 0 && ratio <= 1))
            throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "The ratio of wrong rows to keep must be in [0, 1].");
        using var scope = NewDisposeScope();
        long rows = scores.shape[0];
        var rank = TargetRanks(scores, targets);
        // Sort by (rank, row): unique keys, so the order is deterministic; position = where each row lands in that order.
        var key = rank * rows + arange(rows, ScalarType.Int64, scores.device);
        var position = key.argsort().argsort();
        var wrong = rank.gt(0).sum();
        var keep = (rows - wrong) + (wrong.to_type(ScalarType.Float64) * ratio).floor().to_type(ScalarType.Int64);
        return position.lt(keep).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The kept rows as ascending indices (the reference's <c>distill_index</c>); reads the mask back to the host.</summary>
    public static long[] Indices(Tensor scores, Tensor targets, double ratio)
    {
        using var scope = NewDisposeScope();
        return Mask(scores, targets, ratio).nonzero().flatten().cpu().data<long>().ToArray();
    }
}
