// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.SimReg;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.SimReg;

[TestClass]
public sealed class SimRegLossTests
{
    // Predicted [2, 3] (a = 7, b = 1), teacher [2, 3] (4, 3), see HandValues. By hand (Python, math module only):
    // mean_i ‖p_i / ‖p_i‖ − t_i / ‖t_i‖‖² = 0.7027013902020542.
    [TestMethod]
    public void Regression_EqualsTheHandComputedValue_AndIsTwoMinusTwiceTheCosine()
    {
        using var scope = NewDisposeScope();
        var predicted = HandValues.Make([2, 3], 7, 1);
        var teacher = HandValues.Make([2, 3], 4, 3);

        var value = SimRegLoss.Regression(predicted, teacher);

        Assert.AreEqual(0.7027013902020542, value.item<float>(), 1e-6);
        var cosine = nn.functional.cosine_similarity(predicted, teacher, dim: 1).mean();
        Assert.AreEqual(2 - 2 * cosine.item<float>(), value.item<float>(), 1e-6);
    }

    [TestMethod]
    public void Predictor_MapsTheStudentsWidth_ToTheTeachersWidth()
    {
        using var scope = NewDisposeScope();
        using var predictor = new EmbeddingPredictor(4, 6);

        CollectionAssert.AreEqual(new long[] { 5, 6 }, predictor.call(randn(5, 4)).shape);
        Assert.AreEqual(4 * 8 + 8 + 2 * 8 + 8 * 4 + 4 + 4 * 8 + 8 + 2 * 8 + 8 * 6 + 6, predictor.parameters().Sum(p => p.numel()),
            "d -> 2d (with batch norm) -> d -> 2d (with batch norm) -> d_t");
    }
}
