// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Data;

[TestClass]
[DoNotParallelize]
public sealed class BatchSamplerTests
{
    [TestMethod]
    public void Order_IsAPermutation_ReproducibleBySeedAndEpoch()
    {
        var sampler = new BatchSampler(rowCount: 1000, batchSize: 64, seed: 9);
        int[] epoch0 = sampler.Order(0);

        CollectionAssert.AreEqual(Enumerable.Range(0, 1000).ToArray(), epoch0.Order().ToArray(), "Every row exactly once.");
        CollectionAssert.AreNotEqual(Enumerable.Range(0, 1000).ToArray(), epoch0, "Shuffled.");
        CollectionAssert.AreEqual(epoch0, new BatchSampler(1000, 64, seed: 9).Order(0), "Same seed and epoch, same order.");
        CollectionAssert.AreNotEqual(epoch0, sampler.Order(1), "Each epoch has its own order.");
        CollectionAssert.AreNotEqual(epoch0, new BatchSampler(1000, 64, seed: 10).Order(0), "Another seed, another order.");
        CollectionAssert.AreEqual(sampler.Order(5), sampler.Order(5), "An epoch's order does not depend on what ran before.");
    }

    [TestMethod]
    public void NoShuffle_KeepsRowOrder()
    {
        var sampler = new BatchSampler(10, 4, seed: 1, shuffle: false);
        CollectionAssert.AreEqual(Enumerable.Range(0, 10).ToArray(), sampler.Order(3));
    }

    [TestMethod]
    public void LastPartialBatch_IsKeptUnlessDropped()
    {
        var keep = new BatchSampler(10, 4, seed: 1);
        Assert.AreEqual(3, keep.BatchCount);
        int[] order = keep.Order(0);
        Assert.AreEqual(2, keep.BatchRows(order, 2).Length);
        CollectionAssert.AreEquivalent(
            Enumerable.Range(0, 10).ToArray(),
            Enumerable.Range(0, 3).SelectMany(i => keep.BatchRows(order, i).ToArray()).ToArray());

        var drop = new BatchSampler(10, 4, seed: 1, dropLast: true);
        Assert.AreEqual(2, drop.BatchCount);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => drop.BatchRows(drop.Order(0), 2));

        Assert.AreEqual(1, new BatchSampler(3, 4, seed: 1, dropLast: true).BatchCount, "A dataset smaller than a batch still gives one batch.");
    }

    [TestMethod]
    public void GetBatch_GathersAlignedImagesAndLabels()
    {
        using var scope = NewDisposeScope();
        const int n = 10;

        // Image i is constant i, its label is i % 3.
        Tensor images = arange(0, n, ScalarType.Byte).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous();
        Tensor labels = arange(0, n, ScalarType.Int64).remainder(3);
        using var dataset = new ImageTensorDataset(images.alias().DetachFromDisposeScope(), labels.alias().DetachFromDisposeScope(), new ImageShape(1, 2, 2), 3, ["a", "b", "c"]);
        var sampler = new BatchSampler(n, 4, seed: 3);
        int[] order = sampler.Order(2);

        var seen = new List<int>();
        for (int i = 0; i < sampler.BatchCount; i++)
        {
            (Tensor batchImages, Tensor batchLabels) = sampler.GetBatch(dataset, order, i);
            int[] rows = sampler.BatchRows(order, i).ToArray();
            CollectionAssert.AreEqual(new long[] { rows.Length, 1, 2, 2 }, batchImages.shape);
            Assert.AreEqual(ScalarType.Byte, batchImages.dtype);
            byte[] firstPixels = batchImages.flatten(1).select(1, 0).data<byte>().ToArray();
            CollectionAssert.AreEqual(rows.Select(r => (byte)r).ToArray(), firstPixels);
            CollectionAssert.AreEqual(rows.Select(r => (long)(r % 3)).ToArray(), batchLabels.data<long>().ToArray());
            seen.AddRange(rows);
        }

        CollectionAssert.AreEqual(order, seen.ToArray());
    }
}
