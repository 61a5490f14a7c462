// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using Microsoft.ML.Distillation.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Data;

[TestClass]
[DoNotParallelize]
public sealed class RandomCropFlipTests
{
    public TestContext TestContext { get; set; } = null!;

    private static bool Same(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    /// <summary>Batch [B, 3, 8, 8] uint8 where image b is constant b + 1 (so 0 can only be padding).</summary>
    private static Tensor ConstantImages(int batch) =>
        arange(1, batch + 1, ScalarType.Byte).view(batch, 1, 1, 1).expand(batch, 3, 8, 8).contiguous();

    [TestMethod]
    public void Output_KeepsShapeAndDtype()
    {
        using var scope = NewDisposeScope();
        var augmentation = new RandomCropFlip(seed: 1, padding: 4);
        Tensor bytes = randint(0, 256, [5, 3, 6, 7], ScalarType.Byte);
        Tensor floats = rand(5, 1, 6, 7);

        Tensor a = augmentation.Apply(bytes);
        Tensor b = augmentation.Apply(floats);

        CollectionAssert.AreEqual(new long[] { 5, 3, 6, 7 }, a.shape);
        Assert.AreEqual(ScalarType.Byte, a.dtype);
        CollectionAssert.AreEqual(new long[] { 5, 1, 6, 7 }, b.shape);
        Assert.AreEqual(ScalarType.Float32, b.dtype);
    }

    [TestMethod]
    public void EveryImage_KeepsItsOwnValues_WithTheExpectedAmountOfPadding()
    {
        using var scope = NewDisposeScope();
        const int batch = 32, padding = 2;
        var augmentation = new RandomCropFlip(seed: 7, padding: padding);
        var random = new Random(11);
        int[] top = Enumerable.Range(0, batch).Select(_ => random.Next(2 * padding + 1)).ToArray();
        int[] left = Enumerable.Range(0, batch).Select(_ => random.Next(2 * padding + 1)).ToArray();
        bool[] flip = Enumerable.Range(0, batch).Select(_ => random.Next(2) == 1).ToArray();

        Tensor output = augmentation.Apply(ConstantImages(batch), top, left, flip);

        for (int b = 0; b < batch; b++)
        {
            byte[] values = output[b].data<byte>().ToArray();
            Assert.IsTrue(values.All(v => v == 0 || v == b + 1), $"Image {b} holds values of another image.");
            int expectedNonZero = 3 * (8 - Math.Abs(top[b] - padding)) * (8 - Math.Abs(left[b] - padding));
            Assert.AreEqual(expectedNonZero, values.Count(v => v != 0), $"Image {b}: offsets ({top[b]}, {left[b]}).");
        }
    }

    [TestMethod]
    public void RandomApply_KeepsLabelsAligned()
    {
        using var scope = NewDisposeScope();
        var augmentation = new RandomCropFlip(seed: 5, padding: 4);
        Tensor output = augmentation.Apply(ConstantImages(64));
        for (int b = 0; b < 64; b++)
        {
            byte[] values = output[b].data<byte>().ToArray();
            Assert.IsTrue(values.All(v => v == 0 || v == b + 1));
            Assert.IsTrue(values.Count(v => v == b + 1) >= 3 * 4 * 4, "At least a (H - p) x (W - p) part of the image stays.");
        }
    }

    [TestMethod]
    public void CornerOffset_PadsWithZerosAndShiftsTheImage()
    {
        using var scope = NewDisposeScope();
        const int p = 2;
        var augmentation = new RandomCropFlip(seed: 0, padding: p, horizontalFlip: false);
        Tensor images = randint(1, 256, [2, 3, 8, 8], ScalarType.Byte);

        Tensor output = augmentation.Apply(images, [0, 2 * p], [0, 2 * p], [false, false]);

        // Sample 0: window at the top-left of the padded image -> zeros on top and left, the image moved down-right.
        Tensor first = output[0];
        Assert.AreEqual(0, first.narrow(1, 0, p).count_nonzero().item<long>());
        Assert.AreEqual(0, first.narrow(2, 0, p).count_nonzero().item<long>());
        Assert.IsTrue(Same(first.narrow(1, p, 8 - p).narrow(2, p, 8 - p), images[0].narrow(1, 0, 8 - p).narrow(2, 0, 8 - p)));

        // Sample 1: bottom-right -> zeros at the bottom and right, the image moved up-left.
        Tensor second = output[1];
        Assert.AreEqual(0, second.narrow(1, 8 - p, p).count_nonzero().item<long>());
        Assert.AreEqual(0, second.narrow(2, 8 - p, p).count_nonzero().item<long>());
        Assert.IsTrue(Same(second.narrow(1, 0, 8 - p).narrow(2, 0, 8 - p), images[1].narrow(1, p, 8 - p).narrow(2, p, 8 - p)));
    }

    [TestMethod]
    public void Flip_MatchesTorchFlip()
    {
        using var scope = NewDisposeScope();
        var augmentation = new RandomCropFlip(seed: 0, padding: 0);
        Tensor images = randint(0, 256, [3, 3, 5, 7], ScalarType.Byte);

        Tensor output = augmentation.Apply(images, [0, 0, 0], [0, 0, 0], [true, false, true]);

        Assert.IsTrue(Same(output[0], images[0].flip(-1)));
        Assert.IsTrue(Same(output[1], images[1]));
        Assert.IsTrue(Same(output[2], images[2].flip(-1)));
    }

    [TestMethod]
    public void CropThenFlip_MatchesPadNarrowFlipPerSample()
    {
        using var scope = NewDisposeScope();
        const int p = 4;
        var augmentation = new RandomCropFlip(seed: 0, padding: p);
        Tensor images = rand(4, 3, 10, 12);
        int[] top = [0, 3, 8, 5];
        int[] left = [8, 1, 0, 4];
        bool[] flip = [true, false, false, true];

        Tensor output = augmentation.Apply(images, top, left, flip);

        Tensor padded = nn.functional.pad(images, [p, p, p, p]);
        for (int b = 0; b < 4; b++)
        {
            Tensor expected = padded[b].narrow(1, top[b], 10).narrow(2, left[b], 12);
            if (flip[b])
            {
                expected = expected.flip(-1);
            }

            Assert.IsTrue(Same(output[b], expected), $"Sample {b}");
        }
    }

    [TestMethod]
    public void SameSeed_SameBatches_DifferentSeed_DifferentBatches()
    {
        using var scope = NewDisposeScope();
        Tensor images = randint(0, 256, [16, 3, 8, 8], ScalarType.Byte);
        var first = new RandomCropFlip(seed: 42);
        var second = new RandomCropFlip(seed: 42);
        var other = new RandomCropFlip(seed: 43);

        for (int step = 0; step < 3; step++)
        {
            Tensor a = first.Apply(images);
            Tensor b = second.Apply(images);
            Tensor c = other.Apply(images);
            Assert.IsTrue(Same(a, b), $"Step {step}: same seed, same batch.");
            Assert.IsFalse(Same(a, c), $"Step {step}: different seed, different batch.");
        }
    }

    [TestMethod]
    public void Disabled_ReturnsACopy()
    {
        using var scope = NewDisposeScope();
        var augmentation = new RandomCropFlip(seed: 0, padding: 0, horizontalFlip: false);
        Assert.IsFalse(augmentation.IsEnabled);
        Tensor images = randint(0, 256, [2, 3, 4, 4], ScalarType.Byte);
        Tensor output = augmentation.Apply(images);
        Assert.IsTrue(Same(output, images));
        Assert.AreNotEqual(images.Handle, output.Handle);
    }

    [TestMethod]
    public void CifarBatch_IsCheap()
    {
        using var scope = NewDisposeScope();
        var augmentation = new RandomCropFlip(seed: 0);
        Tensor images = randint(0, 256, [64, 3, 32, 32], ScalarType.Byte);
        for (int i = 0; i < 20; i++)
        {
            using var warm = NewDisposeScope();
            augmentation.Apply(images);
        }

        const int runs = 200;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++)
        {
            using var step = NewDisposeScope();
            augmentation.Apply(images);
        }

        double milliseconds = watch.Elapsed.TotalMilliseconds / runs;
        TestContext.WriteLine($"RandomCropFlip, 64x3x32x32 uint8: {milliseconds:F3} ms per batch");
        Assert.IsTrue(milliseconds < 20, $"{milliseconds:F3} ms per batch; expected well under a conv step.");
    }
}
