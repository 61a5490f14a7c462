// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.SelfSupervision;

/// <summary>
/// The self-supervised augmented task of HSAKD: every image is seen at 0, 90, 180 and 270 degrees counter-clockwise, and the
/// joint label of class y at rotation j is <c>y * 4 + j</c> (class-major, rotation-minor).
/// </summary>
internal static class Rotations
{
    /// <summary>M, the number of rotations.</summary>
    public const int Count = 4;

    /// <summary>
    /// [B, C, H, W] → [4B, C, H, W], sample-major: row <c>4i + j</c> is sample i rotated j quarter-turns counter-clockwise
    /// (PyTorch <c>rot90(x, j, dims=(2, 3))</c>). Images must be square.
    /// </summary>
    public static Tensor Expand(Tensor images)
    {
        if (images.shape[2] != images.shape[3])
            throw new ArgumentException($"Rotation needs square images, but the batch is {images.shape[2]}x{images.shape[3]} (HxW).", nameof(images));
        using var scope = NewDisposeScope();
        long b = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        var stacked = stack(new[] { images, images.rot90(1, (2, 3)), images.rot90(2, (2, 3)), images.rot90(3, (2, 3)) }, dim: 1);
        return stacked.reshape(b * Count, c, h, w).MoveToOuterDisposeScope();
    }

    /// <summary>Class indices [B] → joint labels [4B] in the order of <see cref="Expand"/>: <c>y * 4 + j</c>.</summary>
    public static Tensor JointLabels(Tensor labels)
    {
        using var scope = NewDisposeScope();
        var offsets = arange(Count, dtype: ScalarType.Int64, device: labels.device);
        return (labels.unsqueeze(1) * Count + offsets.unsqueeze(0)).reshape(-1).MoveToOuterDisposeScope();
    }

    /// <summary>Rows 0::4 of a rotation-expanded tensor: the unrotated originals.</summary>
    public static Tensor Originals(Tensor expanded)
        => expanded[TensorIndex.Slice(0, null, Count)];

    /// <summary>
    /// The rotated rows of a rotation-expanded tensor [4B, ...] → [3B, ...], sample-major: row <c>3i + (j - 1)</c> is sample i rotated
    /// j quarter-turns, j = 1..3 (SSKD's "aug" rows, in the order of the reference).
    /// </summary>
    public static Tensor Rotated(Tensor expanded)
    {
        long rows = expanded.shape[0];
        if (rows % Count != 0)
            throw new ArgumentException($"A rotation-expanded tensor has a multiple of {Count} rows; got {rows}.", nameof(expanded));
        using var scope = NewDisposeScope();
        long[] shape = [rows / Count, Count, .. expanded.shape.Skip(1)];
        long[] result = [rows / Count * (Count - 1), .. expanded.shape.Skip(1)];
        return expanded.view(shape).narrow(1, 1, Count - 1).reshape(result).MoveToOuterDisposeScope();
    }
}
