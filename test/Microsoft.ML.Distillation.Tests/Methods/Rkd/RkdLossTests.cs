// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.Rkd;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Rkd;

[TestClass]
public sealed class RkdLossTests
{
    // Student embeddings [4, 2] (a = 7, b = 2), teacher [4, 3] (5, 1), see HandValues. By hand (Python, math module only): pairwise
    // distances over the mean of the non-zero ones, smooth-L1 = 0.054846695356449135; cosines of the angle at i between e_j − e_i
    // and e_k − e_i for all (i, j, k) (0 where a vector is zero), smooth-L1 = 0.058751650683461276.
    [TestMethod]
    public void DistanceAndAngle_EqualTheHandComputedValues()
    {
        using var scope = NewDisposeScope();
        var student = HandValues.Make([4, 2], 7, 2);
        var teacher = HandValues.Make([4, 3], 5, 1);

        Assert.AreEqual(0.054846695356449135, RkdLoss.Distance(student, teacher).item<float>(), 1e-6);
        Assert.AreEqual(0.058751650683461276, RkdLoss.Angle(student, teacher).item<float>(), 1e-6);
    }

    [TestMethod]
    public void Terms_AreZeroForAScaledCopy_AndOnlyTheStudentGetsAGradient()
    {
        using var scope = NewDisposeScope();
        var teacher = HandValues.Make([5, 3], 4, 3).requires_grad_(true);
        var student = (HandValues.Make([5, 3], 4, 3) * 2).requires_grad_(true);

        var distance = RkdLoss.Distance(student, teacher);
        var angle = RkdLoss.Angle(student, teacher);
        Assert.AreEqual(0, distance.item<float>(), 1e-6, "distances are normalised by their mean");
        Assert.AreEqual(0, angle.item<float>(), 1e-6, "angles do not change with scale");

        var moved = RkdLoss.Distance(HandValues.Make([5, 3], 2, 7).requires_grad_(true), teacher);
        moved.backward();
        Assert.IsNull(teacher.grad, "the teacher's side is detached");
    }
}
