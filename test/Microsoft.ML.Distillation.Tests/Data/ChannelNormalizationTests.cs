// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using static Microsoft.ML.Distillation.Tests.Data.DataTestHelpers;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Data;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ChannelNormalizationTests
{
    // Two images [2, 2, 1, 2]: channel 0 holds 0, 2 | 4, 6 (mean 3, population variance (9 + 1 + 1 + 9) / 4 = 5);
    // channel 1 is constant 7 (std 0, so 1 is used).
    private static Tensor TinyImages() => tensor(new byte[] { 0, 2, 7, 7, 4, 6, 7, 7 }, [2, 2, 1, 2]);

    [TestMethod]
    public void Compute_MatchesHandComputedMeanAndPopulationStd()
    {
        using var scope = NewDisposeScope();
        using ChannelNormalization normalization = ChannelNormalization.Compute(TinyImages());

        Assert.AreEqual(2, normalization.Channels);
        Assert.AreEqual(3f, normalization.Mean[0], 1e-6f);
        Assert.AreEqual(7f, normalization.Mean[1], 1e-6f);
        Assert.AreEqual((float)Math.Sqrt(5), normalization.Std[0], 1e-6f);
        Assert.AreEqual(1f, normalization.Std[1], "A constant channel gets std 1.");
    }

    [TestMethod]
    public void Compute_OverManyChunks_EqualsDirectComputation()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        Tensor images = randint(0, 256, [300, 3, 100, 100], ScalarType.Byte); // 9e6 values: more than one chunk
        using ChannelNormalization normalization = ChannelNormalization.Compute(images);

        Tensor asDouble = images.to_type(ScalarType.Float64);
        double[] mean = asDouble.mean([0, 2, 3]).data<double>().ToArray();
        double[] std = asDouble.std([0, 2, 3], unbiased: false).data<double>().ToArray();
        for (int c = 0; c < 3; c++)
        {
            Assert.AreEqual(mean[c], normalization.Mean[c], 1e-4);
            Assert.AreEqual(std[c], normalization.Std[c], 1e-4);
        }
    }

    [TestMethod]
    public void Normalize_GivesFloatXMinusMeanOverStd()
    {
        using var scope = NewDisposeScope();
        using ChannelNormalization normalization = ChannelNormalization.FromValues([1f, 10f], [2f, 4f], channels: 2);
        Tensor batch = tensor(new byte[] { 3, 5, 10, 18 }, [1, 2, 1, 2]);

        Tensor normalized = normalization.Normalize(batch);

        Assert.AreEqual(ScalarType.Float32, normalized.dtype);
        CollectionAssert.AreEqual(new long[] { 1, 2, 1, 2 }, normalized.shape);
        CollectionAssert.AreEqual(new float[] { 1f, 2f, 0f, 2f }, normalized.data<float>().ToArray());

        // Float input, and a second call reusing the cached per-device tensors.
        Tensor again = normalization.Normalize(batch.to_type(ScalarType.Float32));
        CollectionAssert.AreEqual(new float[] { 1f, 2f, 0f, 2f }, again.data<float>().ToArray());
        Assert.AreEqual(3f, batch.to_type(ScalarType.Float32).data<float>()[0], "The input is not changed.");
    }

    [TestMethod]
    public void CachedMeanAndStd_OutliveTheFirstCallersScope()
    {
        using ChannelNormalization normalization = ChannelNormalization.FromValues([1f], [2f], channels: 1);
        using (NewDisposeScope())
        {
            normalization.Normalize(ones(1, 1, 1, 1));
        }

        using var scope = NewDisposeScope();
        Assert.AreEqual(2f, normalization.Normalize(full(1, 1, 1, 1, 5f)).item<float>());
    }

    [TestMethod]
    public void Normalize_RejectsAnotherChannelCount()
    {
        using var scope = NewDisposeScope();
        using ChannelNormalization normalization = ChannelNormalization.FromValues([1f, 10f], [2f, 4f], channels: 2);
        Assert.ThrowsExactly<ArgumentException>(() => normalization.Normalize(zeros(1, 3, 2, 2)));
    }

    [TestMethod]
    public void FromValues_WrongLength_NamesTheOption()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ChannelNormalization.FromValues([0.5f, 0.5f], [1f, 1f, 1f], 3, "Mean", "Std"));
        Assert.AreEqual("Mean", e.ParamName);
        AssertMentions(e, "Mean", "2 values", "3 channels");
    }

    [TestMethod]
    public void FromValues_NonPositiveStd_NamesTheOption()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ChannelNormalization.FromValues([0f], [0f], 1));
        Assert.AreEqual(ChannelNormalization.DefaultStdOptionName, e.ParamName);
        AssertMentions(e, "NormalizationStd[0]", "positive");
    }

    [TestMethod]
    public void FromValues_OnlyOneArray_AsksForBoth()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ChannelNormalization.FromValues([0f], null, 1));
        AssertMentions(e, "NormalizationStd", "NormalizationMean");
    }
}
