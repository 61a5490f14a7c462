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
public sealed class ChannelsLastTests
{
    private const int Classes = 5;

    [TestMethod]
    public void Of_GivesNhwcStridesAndTheSameValues()
    {
        using var scope = NewDisposeScope();
        var t = arange(2 * 3 * 4 * 5, dtype: ScalarType.Float32).reshape(2, 3, 4, 5);
        var nhwc = ChannelsLast.Of(t);
        CollectionAssert.AreEqual(new long[] { 2, 3, 4, 5 }, nhwc.shape);
        // N, C, H, W strides of an NHWC buffer: H*W*C, 1, W*C, C.
        CollectionAssert.AreEqual(new long[] { 60, 1, 15, 3 }, nhwc.stride());
        Assert.IsTrue(nhwc.eq(t).all().item<bool>());
        var flat = t.flatten(1);
        Assert.AreSame(flat, ChannelsLast.Of(flat), "other ranks are returned as they are");
    }

    [TestMethod]
    public void Apply_RelaysTheConvolutionWeightsInPlace_AndDisposalRestoresTheStandardLayout()
    {
        random.manual_seed(3);
        using var network = NetworkRegistry.Create("resnet8", 3, Classes);
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var parameters = network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var convWeights = parameters.Where(p => p.Value.dim() == 4).Select(p => p.Key).ToList();
        Assert.IsGreaterThan(5, convWeights.Count);

        using (ChannelsLast.Apply(network))
        {
            foreach (var name in convWeights)
            {
                var p = network.named_parameters().Single(q => q.name == name).parameter;
                Assert.AreSame(parameters[name], p, $"{name}: the same parameter object (optimisers keep working)");
                if (p.shape[2] * p.shape[3] > 1)
                    Assert.IsFalse(p.is_contiguous(), $"{name} is channels-last"); // a 1x1 kernel is both layouts at once
                Assert.AreEqual(1L, p.stride(1), $"{name}: channels are the densest dimension");
                Assert.IsTrue(p.eq(before[name]).all().item<bool>(), $"{name}: values unchanged");
            }
        }

        foreach (var (name, value) in network.state_dict())
        {
            Assert.IsTrue(value.is_contiguous(), $"{name} is back in the standard layout");
            Assert.IsTrue(value.eq(before[name]).all().item<bool>(), $"{name}: values unchanged");
        }
    }

    private static ImageTensorDataset Data(int rows, int size) => SyntheticImages.Dataset(rows, size, Classes, seed: 17);

    /// <summary>One fixed-seed HSAKD step (the whole batch); returns its loss terms and how much each parameter moved.</summary>
    private static (TrainingMetrics Metrics, Dictionary<string, Tensor> Update) HsakdStep(
        ClassifierNetwork teacher, string studentArchitecture, bool channelsLast, ImageTensorDataset data)
    {
        random.manual_seed(21);
        using var student = NetworkRegistry.Create(studentArchitecture, 3, Classes);
        var before = student.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var metrics = EngineRuns.Hsakd(student, teacher, data, epochs: 1, batchSize: data.Count, channelsLast: channelsLast);
        foreach (var p in student.parameters())
            Assert.IsTrue(p.is_contiguous(), "the trained student is handed back in the standard layout");
        return (metrics.Single(), student.named_parameters().ToDictionary(p => p.name, p => (p.parameter.detach() - before[p.name]).DetachFromDisposeScope()));
    }

    /// <summary>
    /// Issue 5's equality rule for the channels-last path: a fixed-seed HSAKD step gives the NCHW loss terms within 1e-5 relative.
    /// The parameter updates agree less well than the loss: measured on the build machine, up to about 1e-3 of a tensor's largest
    /// update for the ResNets, where running the NCHW path on 1 instead of 2 threads moves them by at most 2e-4; for MobileNetV2
    /// some batch-norm bias updates differ by more than their own size (not explained yet, so only its loss is compared). That gap
    /// is why <see cref="TrainingOptions.ChannelsLast"/> is off by default; the ResNet bound here (5e-2) catches a
    /// wrong layout (differences of order 1), not rounding.
    /// </summary>
    [TestMethod]
    [DataRow("wrn16_1", "resnet8", true)]
    [DataRow("vgg8", "mobilenetv2_half", false)]
    public void HsakdStep_IsUnchangedByChannelsLast(string teacherArchitecture, string studentArchitecture, bool compareUpdates)
    {
        random.manual_seed(4);
        using var teacher = NetworkRegistry.Create(teacherArchitecture, 3, Classes);
        BatchNormFoldingTests.RandomizeBatchNorms(teacher, seed: 8);
        using var data = Data(rows: 8, size: 32);
        var teacherBefore = teacher.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var (nchw, nchwUpdate) = HsakdStep(teacher, studentArchitecture, channelsLast: false, data);
        var (nhwc, nhwcUpdate) = HsakdStep(teacher, studentArchitecture, channelsLast: true, data);

        foreach (var (term, value) in nchw.LossTerms)
        {
            Assert.IsGreaterThan(0.0, value, $"{term} is a real term");
            Assert.IsLessThanOrEqualTo(1e-5, Math.Abs(nhwc.LossTerms[term] - value) / Math.Abs(value), term);
        }
        int moved = 0;
        foreach (var (name, update) in compareUpdates ? nchwUpdate : [])
        {
            double scale = update.abs().max().item<float>();
            if (scale == 0)
                continue;
            moved++;
            Assert.IsLessThanOrEqualTo(5e-2, (nhwcUpdate[name] - update).abs().max().item<float>() / scale, name);
        }
        if (compareUpdates)
            Assert.IsGreaterThan(10, moved, "the step updated the student");
        foreach (var (name, value) in teacher.state_dict())
        {
            Assert.IsTrue(value.is_contiguous(), $"teacher {name}: the caller's teacher keeps its layout");
            Assert.IsTrue(value.eq(teacherBefore[name]).all().item<bool>(), $"teacher {name}: untouched");
        }
    }
}
