// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.SelfSupervision;

[TestClass]
[DoNotParallelize]
public sealed class RotationsTests
{
    [TestMethod]
    public void Expand_Row4iPlusJ_IsSampleIRotatedJQuarterTurnsCounterClockwise()
    {
        // Two 1x3x3 images with distinct values 0..8 and 10..18.
        using var x = arange(18, dtype: ScalarType.Float32).reshape(2, 1, 3, 3);
        x[1].add_(1);

        using var expanded = Rotations.Expand(x);

        CollectionAssert.AreEqual(new long[] { 8, 1, 3, 3 }, expanded.shape);
        float[,] first = { { 0, 1, 2 }, { 3, 4, 5 }, { 6, 7, 8 } };
        // Counter-clockwise quarter turn: out[i, j] = in[j, W-1-i].
        float[,] ccw = { { 2, 5, 8 }, { 1, 4, 7 }, { 0, 3, 6 } };
        float[,] half = { { 8, 7, 6 }, { 5, 4, 3 }, { 2, 1, 0 } };
        float[,] threeQuarters = { { 6, 3, 0 }, { 7, 4, 1 }, { 8, 5, 2 } };
        AssertImage(first, expanded[0], 0);
        AssertImage(ccw, expanded[1], 0);
        AssertImage(half, expanded[2], 0);
        AssertImage(threeQuarters, expanded[3], 0);
        AssertImage(ccw, expanded[5], 10);
    }

    [TestMethod]
    public void JointLabels_AreClassTimesFourPlusRotation()
    {
        using var y = tensor(new long[] { 2, 0, 1 });

        using var k = Rotations.JointLabels(y);

        CollectionAssert.AreEqual(new long[] { 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7 }, k.data<long>().ToArray());
    }

    [TestMethod]
    public void Originals_AreRowsZeroModFour()
    {
        using var rows = arange(12, dtype: ScalarType.Float32).reshape(12, 1);

        using var originals = Rotations.Originals(rows);

        CollectionAssert.AreEqual(new float[] { 0, 4, 8 }, originals.data<float>().ToArray());
    }

    [TestMethod]
    public void Expand_NonSquare_IsRefused()
    {
        using var x = zeros(1, 1, 2, 3);

        var e = Assert.ThrowsExactly<ArgumentException>(() => Rotations.Expand(x));

        StringAssert.Contains(e.Message, "square");
    }

    private static void AssertImage(float[,] expected, Tensor image, float offset)
    {
        var values = image.reshape(3, 3).data<float>().ToArray();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Assert.AreEqual(expected[i, j] + offset, values[i * 3 + j], $"pixel ({i},{j})");
    }
}
