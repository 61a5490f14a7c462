// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.FitNet;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.FitNet;

[TestClass]
public sealed class FitNetLossTests
{
    // Student map [2, 1, 1, 2] (a = 7, b = 3), teacher map [2, 1, 1, 2] (5, 2), see HandValues; the regressor is a 1x1 convolution
    // with weight 0.5 and bias 0, then batch norm in eval mode at its initial statistics (x / sqrt(1 + 1e-5)) and ReLU. By hand
    // (Python, math module only): mean((relu(0.5·s / sqrt(1 + 1e-5)) − t)²) = 0.4765619531316405.
    [TestMethod]
    public void Hint_ThroughAKnownRegressor_EqualsTheHandComputedValue()
    {
        using var scope = NewDisposeScope();
        using var regressor = new HintRegressor((1, 1, 2), (1, 1, 2));
        regressor.eval();
        using (no_grad())
        {
            foreach (var (name, parameter) in regressor.named_parameters())
            {
                if (name.EndsWith("weight", StringComparison.Ordinal) && parameter.dim() == 4)
                    parameter.fill_(0.5);
                else if (name.StartsWith("_layer", StringComparison.Ordinal))
                    parameter.zero_();
            }
        }

        var hint = FitNetLoss.Hint(regressor.call(HandValues.Make([2, 1, 1, 2], 7, 3)), HandValues.Make([2, 1, 1, 2], 5, 2));

        Assert.AreEqual(0.4765619531316405, hint.item<float>(), 1e-6);
    }

    [TestMethod]
    [DataRow(16, 28, 28, 32, 14, 14, "a 3x3 stride-2 convolution: twice the size")]
    [DataRow(64, 7, 7, 32, 14, 14, "a transposed convolution: half the size")]
    [DataRow(16, 9, 9, 8, 7, 7, "a 3x3 convolution without padding: larger by 2")]
    [DataRow(16, 14, 14, 64, 14, 14, "a 1x1 convolution: the same size")]
    public void Regressor_MapsTheStudentsMap_ToTheTeachersShape(int sc, int sh, int sw, int tc, int th, int tw, string why)
    {
        using var scope = NewDisposeScope();
        using var regressor = new HintRegressor((sc, sh, sw), (tc, th, tw));

        var output = regressor.call(randn(3, sc, sh, sw));

        CollectionAssert.AreEqual(new long[] { 3, tc, th, tw }, output.shape, why);
    }

    [TestMethod]
    public void Regressor_ForAStudentMapTooSmall_IsRefusedWithBothSizes()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => new HintRegressor((16, 7, 7), (8, 9, 9)));

        Assert.AreEqual(nameof(FitNetOptions.HintStage), e.ParamName);
        StringAssert.Contains(e.Message, "student's 7x7 hint map to the teacher's 9x9");
    }
}
