// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.SelfSupervision;

/// <summary>
/// The two ways the methods build the four rotated views of a batch (row 4i + j = sample i rotated j quarter-turns).
/// </summary>
internal static class RotatedViews
{
    /// <summary>
    /// HSAKD (hsakd-sskd.md §2.2): the batch is already cropped and flipped once per image; its four rotations share that crop.
    /// With <paramref name="rotationCount"/> 1 the batch is returned as it is (no rotations).
    /// </summary>
    public static Tensor SharedCrop(Tensor augmented, int rotationCount)
        => rotationCount > 1 ? Rotations.Expand(augmented) : augmented;

    /// <summary>
    /// SSKD (hsakd-sskd.md §3.1): one horizontal flip per image (<paramref name="flip"/>, which must not crop), shared by its views;
    /// then the four rotations; then every view gets its own random crop (<paramref name="crop"/>, which must not flip). Works on raw
    /// pixels, so the crop pads with raw zeros as torchvision does. Draws from <paramref name="random"/>: the flips of the B images, then
    /// the crop offsets of the 4B views in row order.
    /// </summary>
    public static Tensor CroppedSeparately(Tensor raw, RandomCropFlip flip, RandomCropFlip crop, Random random)
    {
        if (flip.Padding != 0 || crop.HorizontalFlip)
            throw new ArgumentException("The flip step must not crop and the crop step must not flip.");
        using var scope = NewDisposeScope();
        var views = Rotations.Expand(flip.Apply(raw, random));
        return crop.Apply(views, random).MoveToOuterDisposeScope();
    }
}
