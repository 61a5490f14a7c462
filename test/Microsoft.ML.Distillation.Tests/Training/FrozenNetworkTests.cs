// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Training;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class FrozenNetworkTests
{
    private const int Classes = 5;

    private static ImageTensorDataset Data(int rows, int size) => SyntheticImages.Dataset(rows, size, Classes, seed: 11);

    /// <summary>Two epochs of one HSAKD step each (so the second step also sees the first update), teacher folded or not.</summary>
    private static IReadOnlyList<TrainingMetrics> TrainHsakd(ClassifierNetwork teacher, bool fold, ImageTensorDataset data)
    {
        random.manual_seed(21);
        using var student = NetworkRegistry.Create("resnet8", 3, Classes);
        return EngineRuns.Hsakd(student, teacher, data, epochs: 2, batchSize: data.Count, foldTeacher: fold);
    }

    [TestMethod]
    [DataRow("wrn16_1")]
    [DataRow("resnet8")]
    public void HsakdStep_LossIsUnchangedByTheFoldedTeacher(string teacherArchitecture)
    {
        random.manual_seed(4);
        using var teacher = NetworkRegistry.Create(teacherArchitecture, 3, Classes);
        BatchNormFoldingTests.RandomizeBatchNorms(teacher, seed: 8);
        using var data = Data(rows: 8, size: 32);

        var slow = TrainHsakd(teacher, fold: false, data);
        var fast = TrainHsakd(teacher, fold: true, data);

        for (int epoch = 0; epoch < 2; epoch++)
        {
            Assert.IsLessThanOrEqualTo(1e-5, Math.Abs(fast[epoch].Loss - slow[epoch].Loss) / Math.Abs(slow[epoch].Loss), $"step {epoch + 1}: total loss");
            foreach (var (term, value) in slow[epoch].LossTerms)
            {
                Assert.IsGreaterThan(0.0, value, $"{term} is a real term");
                Assert.IsLessThanOrEqualTo(1e-5, Math.Abs(fast[epoch].LossTerms[term] - value) / Math.Abs(value), $"step {epoch + 1}: {term}");
            }
        }
        Assert.AreNotEqual(slow[0].Loss, slow[1].Loss, "the second step runs after an update");
    }

    [TestMethod]
    public void Folded_LeavesTheCallersTeacherUntouched_AndHasNoGradientState()
    {
        random.manual_seed(5);
        using var teacher = NetworkRegistry.Create("wrn16_1", 3, Classes);
        BatchNormFoldingTests.RandomizeBatchNorms(teacher, seed: 6);
        teacher.train();
        teacher.ComputeAuxiliary = false;
        var before = teacher.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var requiresGrad = teacher.parameters().Select(p => p.requires_grad).ToArray();

        using (var lease = new FrozenNetwork(teacher, CPU, computeAuxiliary: true, foldBatchNorms: true))
        {
            Assert.IsTrue(lease.IsFolded);
            Assert.AreEqual(14, lease.FoldedNormCount, "wrn16_1 with aux: 6 backbone blocks + 4 + 2 + 2 aux blocks, one pair each");
            using var scope = NewDisposeScope();
            var output = lease.Forward(randn(2, 3, 32, 32).requires_grad_(), keepFeatures: false);

            Assert.IsFalse(output.Logits.requires_grad, "no autograd state");
            Assert.IsTrue(output.AuxLogits.All(a => !a.requires_grad));
            Assert.HasCount(3, output.AuxLogits, "aux logits computed as asked");
            Assert.HasCount(0, output.Features, "features are released unless the loss reads them");
        }

        foreach (var (name, tensor) in teacher.state_dict())
            Assert.IsTrue(TensorAssert.Same(before[name], tensor), $"teacher '{name}' changed");
        CollectionAssert.AreEqual(requiresGrad, teacher.parameters().Select(p => p.requires_grad).ToArray());
        Assert.IsTrue(teacher.training);
        Assert.IsFalse(teacher.ComputeAuxiliary);
        Assert.IsTrue(teacher.modules().OfType<TorchSharp.Modules.BatchNorm2d>().All(n => !BatchNormFolding.IsFolded(n)));
        foreach (var t in before.Values)
            t.Dispose();
    }

    [TestMethod]
    public void FoldedTeacher_KeepsTheGlobalRandomStream()
    {
        using var teacher = NetworkRegistry.Create("resnet8", 3, Classes);
        random.manual_seed(9);
        float expected = rand(1).item<float>();

        random.manual_seed(9);
        using (new FrozenNetwork(teacher, CPU, computeAuxiliary: true, foldBatchNorms: true))
        {
            Assert.AreEqual(expected, rand(1).item<float>(), "building the folded copy does not consume random numbers");
        }
    }
}
