// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// SSKD's contrastive similarity (hsakd-sskd.md §3.3): for a batch of B images seen at four rotations, the cosine similarity between every
/// rotated view and every unrotated image, <c>A[r, c] = cos(h(aug_r), h(normal_c))</c>, a [3B, B] matrix whose row r should point at
/// column ⌊r / 3⌋ (the view's own image).
/// </summary>
internal static class ViewSimilarity
{
    /// <summary>Norms below this are treated as this (as PyTorch's <c>cosine_similarity</c> does with eps = 1e-8).</summary>
    public const double Epsilon = 1e-8;

    /// <summary>
    /// [4B, D] features in the row order of <see cref="Rotations.Expand"/> (row 4i + j = sample i, rotation j) → [3B, B] cosines,
    /// rows in the order of <see cref="Rotations.Rotated"/> (sample-major), columns the B unrotated images.
    /// </summary>
    public static Tensor Matrix(Tensor features)
    {
        if (features.dim() != 2 || features.shape[0] % Rotations.Count != 0)
            throw new ArgumentException(
                $"Expected features [4B, D] of a rotation-expanded batch; got [{string.Join(", ", features.shape)}].", nameof(features));
        using var scope = NewDisposeScope();
        var unit = features / features.norm(1, keepdim: true).clamp_min(Epsilon);
        var normal = Rotations.Originals(unit);
        var rotated = Rotations.Rotated(unit);
        return rotated.matmul(normal.t()).MoveToOuterDisposeScope();
    }

    /// <summary>The positive column of every row of <see cref="Matrix"/>: <c>⌊r / 3⌋</c>, [3B] int64.</summary>
    public static Tensor Targets(long batchSize, Device device)
    {
        using var scope = NewDisposeScope();
        return arange(batchSize, ScalarType.Int64, device).repeat_interleave(Rotations.Count - 1).MoveToOuterDisposeScope();
    }
}
