// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.SelfSupervision;

[TestClass]
public sealed class RotatedViewsTests
{
    [TestMethod]
    public void CroppedSeparately_FlipsOncePerImage_ThenRotates_ThenCropsEveryViewOnItsOwn()
    {
        const int padding = 2;
        var raw = arange(2 * 1 * 5 * 5, dtype: ScalarType.Int64).reshape(2, 1, 5, 5).to_type(ScalarType.Byte);
        var random = new Random(11);

        var views = RotatedViews.CroppedSeparately(raw, new RandomCropFlip(0, 0, horizontalFlip: true), new RandomCropFlip(0, padding, horizontalFlip: false), random);

        // Replay the documented draws with plain tensor ops: flips of the 2 images, then (top, left) of the 8 views in row order.
        var replay = new Random(11);
        bool[] flips = [replay.Next(2) == 1, replay.Next(2) == 1];
        CollectionAssert.AreEqual(new long[] { 8, 1, 5, 5 }, views.shape);
        var offsets = new List<(int Top, int Left)>();
        for (int row = 0; row < 8; row++)
        {
            int i = row / 4, j = row % 4;
            int top = replay.Next(2 * padding + 1), left = replay.Next(2 * padding + 1);
            offsets.Add((top, left));
            var image = raw[i].to_type(ScalarType.Int64);
            if (flips[i])
                image = image.flip(2);
            var rotated = image.rot90(j, (1, 2));
            var padded = nn.functional.pad(rotated, [padding, padding, padding, padding]);
            var expected = padded[.., top..(top + 5), left..(left + 5)];
            Assert.IsTrue(expected.eq(views[row].to_type(ScalarType.Int64)).all().item<bool>(), $"view {row} (image {i}, rotation {j}, offsets {top},{left}, flip {flips[i]})");
        }

        Assert.IsGreaterThan(1, offsets.Take(4).Distinct().Count(), "the four views of an image were cropped differently");
    }

    [TestMethod]
    public void SharedCrop_RotatesTheAugmentedBatch_OrReturnsItWithoutRotations()
    {
        var batch = randn(3, 2, 4, 4);

        Assert.AreSame(batch, RotatedViews.SharedCrop(batch, 1));
        var expanded = RotatedViews.SharedCrop(batch, 4);
        CollectionAssert.AreEqual(new long[] { 12, 2, 4, 4 }, expanded.shape);
        Assert.IsTrue(expanded[5].eq(batch[1].rot90(1, (1, 2))).all().item<bool>());
    }

    [TestMethod]
    public void CroppedSeparately_RefusesAFlipStepThatCrops()
    {
        Assert.ThrowsExactly<ArgumentException>(() =>
            RotatedViews.CroppedSeparately(zeros(1, 1, 4, 4), new RandomCropFlip(0, 4, true), new RandomCropFlip(0, 4, false), new Random(1)));
    }
}
