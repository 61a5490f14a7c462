// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.At;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.At;

[TestClass]
public sealed class AtLossTests
{
    // Student stages [2, 2, 2, 2] (a = 3, b = 1) and [2, 1, 2, 2] (7, 2); teacher stages [2, 1, 2, 2] (5, 4), [2, 3, 4, 4] (2, 5) and
    // [2, 1, 1, 1] (3, 3), see HandValues. By hand (Python, math module only): a(f) = rows of the channel mean of f² L2-normalised;
    // the teacher's 4x4 map average-pooled to 2x2; its third stage has no partner and is left out;
    // mean((a_s − a_t)²) summed over the two pairs = 0.29030792599144245.
    [TestMethod]
    public void Attention_EqualsTheHandComputedValue_PoolingTheLargerMap_AndPairingTheFirstStages()
    {
        using var scope = NewDisposeScope();
        Tensor[] student = [HandValues.Make([2, 2, 2, 2], 3, 1), HandValues.Make([2, 1, 2, 2], 7, 2)];
        Tensor[] teacher = [HandValues.Make([2, 1, 2, 2], 5, 4), HandValues.Make([2, 3, 4, 4], 2, 5), HandValues.Make([2, 1, 1, 1], 3, 3)];

        Assert.AreEqual(0.29030792599144245, AtLoss.Attention(student, teacher, 2).item<float>(), 1e-6);
    }

    [TestMethod]
    public void Map_IsAUnitVectorPerImage()
    {
        using var scope = NewDisposeScope();
        var map = AtLoss.Map(HandValues.Make([3, 4, 2, 3], 5, 1), 2);

        CollectionAssert.AreEqual(new long[] { 3, 6 }, map.shape);
        foreach (float norm in map.square().sum(1).sqrt().data<float>().ToArray())
            Assert.AreEqual(1f, norm, 1e-6f);
    }

    [TestMethod]
    public void Attention_WithNoPairedStage_IsAZeroScalarThatAddsToOtherTerms()
    {
        using var scope = NewDisposeScope();
        var none = AtLoss.Attention([], [HandValues.Make([2, 1, 2, 2], 5, 4)], 2);

        Assert.AreEqual(0, none.dim(), "a 0-d scalar like every other loss term, so the terms add and stack");
        Assert.AreEqual(0f, none.item<float>());
        Assert.AreEqual(TorchSharp.DeviceType.CPU, none.device_type);
        Assert.AreEqual(1.5f, (none + tensor(1.5f)).item<float>());
    }
}
