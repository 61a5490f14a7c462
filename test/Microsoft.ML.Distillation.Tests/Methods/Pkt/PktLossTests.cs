// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.Pkt;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Pkt;

[TestClass]
public sealed class PktLossTests
{
    // Student embeddings [3, 2] (a = 7, b = 1), teacher [3, 3] (4, 3), see HandValues. By hand (Python, math module only): cosine
    // matrices with ε = 1e-7 in the norms, (s + 1) / 2, rows normalised; mean p_t·log((p_t + ε) / (p_s + ε)) = 0.2877907747333058.
    [TestMethod]
    public void Transfer_EqualsTheHandComputedValue_AcrossDifferentWidths()
    {
        using var scope = NewDisposeScope();
        var value = PktLoss.Transfer(HandValues.Make([3, 2], 7, 1), HandValues.Make([3, 3], 4, 3));

        Assert.AreEqual(0.2877907747333058, value.item<float>(), 1e-6);
    }

    [TestMethod]
    public void Transfer_IsZeroWhenTheStudentHasTheTeachersGeometry()
    {
        using var scope = NewDisposeScope();
        var teacher = HandValues.Make([4, 3], 4, 3);

        Assert.AreEqual(0, PktLoss.Transfer(teacher * 3, teacher).item<float>(), 1e-6);
    }
}
