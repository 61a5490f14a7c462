// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.Msfd;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Msfd;

[TestClass]
public sealed class MsfdLossTests
{
    // Student maps [3, 2, 2, 2] (a = 7, b = 3), teacher maps [3, 2, 2, 2] (5, 2), see HandValues; grids 1 and 2, τ = 0.5. By hand
    // (Python, math module only): local vectors from block means, L2-normalised; at each position the mean over images of
    // CE(student · teacherᵀ / τ, own image), averaged with the teacher-anchored one; the mean over each scale's positions (1x1:
    // 2.8024800648848833, 2x2: 1.1975008226263162), then over the 2 scales = 1.9999904437555998; channel vectors over images and
    // positions, CE(own channel) both ways, mean over the 2 scales = 1.8404279302474458.
    [TestMethod]
    public void SampleWiseAndFeatureWise_EqualTheHandComputedValues()
    {
        using var scope = NewDisposeScope();
        var student = HandValues.Make([3, 2, 2, 2], 7, 3);
        var teacher = HandValues.Make([3, 2, 2, 2], 5, 2);

        Assert.AreEqual(1.9999904437555998, MsfdLoss.SampleWise(student, teacher, [1, 2], 0.5).item<float>(), 1e-5);
        Assert.AreEqual(1.8404279302474458, MsfdLoss.FeatureWise(student, teacher, [1, 2], 0.5).item<float>(), 1e-5);
    }

    [TestMethod]
    public void BothTerms_AreLowestWhenTheStudentMatchesTheTeacher_AndTakeMapsOfOtherSizes()
    {
        using var scope = NewDisposeScope();
        var teacher = HandValues.Make([4, 3, 4, 4], 5, 2);
        var other = HandValues.Make([4, 3, 8, 8], 3, 7);

        Assert.IsLessThan(MsfdLoss.SampleWise(other, teacher, [1, 2], 0.1).item<float>(), MsfdLoss.SampleWise(teacher * 2, teacher, [1, 2], 0.1).item<float>());
        Assert.IsLessThan(MsfdLoss.FeatureWise(other, teacher, [1, 2], 0.1).item<float>(), MsfdLoss.FeatureWise(teacher * 2, teacher, [1, 2], 0.1).item<float>());
    }

    [TestMethod]
    public void Adapters_MapOnlyTheStagesWhoseWidthsDiffer()
    {
        using var scope = NewDisposeScope();
        using var adapters = new ChannelAdapters([(16, 16), (32, 64)]);
        var same = randn(2, 16, 4, 4);

        Assert.IsFalse(adapters.IsIdentity);
        Assert.AreSame(same, adapters.Apply(0, same));
        CollectionAssert.AreEqual(new long[] { 2, 64, 4, 4 }, adapters.Apply(1, randn(2, 32, 4, 4)).shape);
        Assert.AreEqual(32 * 64 + 2 * 64, adapters.parameters().Sum(p => p.numel()), "one bias-free 1x1 convolution and its batch norm");
    }
}
