// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.Sp;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Sp;

[TestClass]
public sealed class SpLossTests
{
    // Student maps [2, 2, 1, 2] (a = 7, b = 3), teacher maps [2, 3, 1, 1] (a = 5, b = 2), see HandValues. By hand (Python, math
    // module only): G = A·Aᵀ of the flattened rows, each row L2-normalised, (1/B²) Σ (Ĝ_t − Ĝ_s)² = 0.0013378530385471526.
    [TestMethod]
    public void Similarity_EqualsTheHandComputedValue_AcrossDifferentChannelCounts()
    {
        using var scope = NewDisposeScope();
        var value = SpLoss.Similarity(HandValues.Make([2, 2, 1, 2], 7, 3), HandValues.Make([2, 3, 1, 1], 5, 2));

        Assert.AreEqual(0.0013378530385471526, value.item<float>(), 1e-8);
    }

    [TestMethod]
    public void Similarity_IsZeroForMapsThatDifferOnlyByScale_AndGrowsWhenTheRelationsDiffer()
    {
        using var scope = NewDisposeScope();
        var maps = HandValues.Make([3, 2, 2, 2], 3, 1);

        Assert.AreEqual(0, SpLoss.Similarity(maps * 5, maps).item<float>(), 1e-7, "row normalisation removes the scale");
        Assert.IsGreaterThan(1e-3f, SpLoss.Similarity(maps.flip(0), maps).item<float>());
    }
}
