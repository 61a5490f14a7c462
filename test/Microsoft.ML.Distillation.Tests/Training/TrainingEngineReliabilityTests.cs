// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Tests.TestUtilities;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Training;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class TrainingEngineReliabilityTests
{
    private static IDataView Keyed(MLContext ml, int rows)
    {
        var raw = RealImages.Train(ml, rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
    }

    [TestMethod]
    public void Cancellation_StopsWithinABatch_AndThrowsOperationCanceled()
    {
        var ml = new MLContext(seed: 1);
        using var cts = new CancellationTokenSource();
        var epochs = new List<TrainingMetrics>();
        var options = new StudentOptions
        {
            Architecture = "resnet8", Epochs = 3, BatchSize = 16, Seed = 1, CancellationToken = cts.Token,
            MetricsCallback = m => { epochs.Add(m); cts.Cancel(); },
        };

        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Baseline(options).Fit(Keyed(ml, 64)));

        Assert.HasCount(1, epochs, "the cancel after epoch 1 stops training at the first batch of epoch 2");
    }

    [TestMethod]
    public void AlreadyCancelledToken_StopsBeforeTraining()
    {
        var ml = new MLContext(seed: 1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var options = new StudentOptions { Architecture = "resnet8", Epochs = 1, Seed = 1, CancellationToken = cts.Token };

        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Baseline(options).Fit(Keyed(ml, 64)));
    }

    [TestMethod]
    public void Divergence_NamesEpochAndBatch_AndSuggestsALowerLearningRate()
    {
        var ml = new MLContext(seed: 1);
        var options = new StudentOptions { Architecture = "resnet8", Epochs = 2, BatchSize = 16, Seed = 1, LearningRate = 1e12 };

        var e = Assert.ThrowsExactly<TrainingDivergedException>(() => ml.Distillation.Baseline(options).Fit(Keyed(ml, 64)));

        Assert.AreEqual(1, e.Epoch);
        Assert.IsNotNull(e.Batch);
        Assert.IsGreaterThan(1, e.Batch!.Value, "the first batch is computed with finite initial weights");
        StringAssert.Contains(e.Message, $"epoch 1, batch {e.Batch}");
        StringAssert.Contains(e.Message, "lower LearningRate");
    }

    /// <summary>CE plus a term that is 0 with a NaN gradient from the given step on: the square root at 0 (derivative ∞, times 0).</summary>
    private sealed class NaNGradientFromStep(int step) : DistillationMethod
    {
        public override string Name => "nan-gradient";

        public override IReadOnlyList<string> TermNames { get; } = ["ce", "kink"];

        public override IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep s)
        {
            var ce = nn.functional.cross_entropy(s.StudentLogits, s.Labels);
            var kink = (s.StudentLogits * (s.StepIndex >= step ? 0 : 1e-9)).square().sum().sqrt();
            return [("ce", ce), ("kink", kink)];
        }
    }

    [TestMethod]
    public void FiniteLossWithANaNGradient_StopsAtThatBatch_NamingAParameter_BeforeAnyUpdate()
    {
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        var options = new StudentOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 16, Seed = 1 };

        var e = Assert.ThrowsExactly<TrainingDivergedException>(
            () => ml.Distillation.Distill(SharedTeacher.Teacher, new NaNGradientFromStep(2), options).Fit(data));

        // Without the check the NaN gradient would be applied at batch 3 and the loss of batch 4 would be NaN.
        Assert.AreEqual(1, e.Epoch);
        Assert.AreEqual(3, e.Batch);
        StringAssert.Contains(e.Message, "epoch 1, batch 3: the loss is finite (ce ");
        StringAssert.Contains(e.Message, "kink 0) but its gradient is not, first at '");
        StringAssert.Contains(e.Message, "No update was applied");
    }

    [TestMethod]
    public void TwoTrainingsInParallel_GiveTheSameModelsAsSequential()
    {
        var ml = new MLContext(seed: 1);
        var data = Keyed(ml, 64);
        StudentOptions Options(int seed) => new() { Architecture = "resnet8", Epochs = 1, BatchSize = 16, Seed = seed };
        using var seqA = ml.Distillation.Baseline(Options(1)).Fit(data);
        using var seqB = ml.Distillation.Baseline(Options(2)).Fit(data);

        var parallel = new ImageClassifierTransformer[2];
        Parallel.For(0, 2, i => parallel[i] = ml.Distillation.Baseline(Options(i + 1)).Fit(data));

        foreach (var (sequential, concurrent) in new[] { (seqA, parallel[0]), (seqB, parallel[1]) })
        {
            var expected = sequential.Model.Network.state_dict();
            foreach (var (name, tensor) in concurrent.Model.Network.state_dict())
                Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs between parallel and sequential training");
            concurrent.Dispose();
        }
    }
}
