// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Extensibility;

/// <summary>
/// The public extension point: methods defined outside the library. The methods used here (the sample's KD with label smoothing,
/// and <see cref="RowMemoryMethod"/> below) use public types only.
/// </summary>
[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class DistillationMethodTests
{
    /// <summary>
    /// A tiny stateful method: a memory of each row's softened student prediction (N x K buffer), moved towards the new prediction
    /// after every step, and a term pulling the student towards its remembered prediction of the same rows. Its result depends on the
    /// memory, so a resume that lost the memory would not equal an uninterrupted run.
    /// </summary>
    private sealed class RowMemoryMethod : DistillationMethod
    {
        private Tensor? _pending;

        public MemoryModule? Memory { get; private set; }

        public override string Name => "row-memory";

        public override IReadOnlyList<string> TermNames { get; } = ["ce", "memory"];

        public override nn.Module? CreateModule(DistillationSetup setup) => Memory = new MemoryModule(setup.RowCount, setup.ClassCount);

        public override IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep step)
        {
            var rows = tensor(step.RowIndices.Select(r => (long)r).ToArray(), device: step.Labels.device);
            var probabilities = nn.functional.softmax(step.StudentLogits, 1);
            var remembered = Memory!.Bank.index_select(0, rows);
            _pending?.Dispose();
            _pending = probabilities.detach().clone().DetachFromDisposeScope();
            var ce = nn.functional.cross_entropy(step.StudentLogits, step.Labels);
            var memory = 0.5 * (probabilities - remembered).square().sum(1).mean();
            return [("ce", ce), ("memory", memory)];
        }

        public override void OnStepEnd(DistillationStep step)
        {
            var rows = tensor(step.RowIndices.Select(r => (long)r).ToArray(), device: step.Labels.device);
            var updated = Memory!.Bank.index_select(0, rows) * 0.5 + _pending! * 0.5;
            Memory.Bank.index_copy_(0, rows, updated);
        }
    }

    private sealed class MemoryModule : nn.Module
    {
        public MemoryModule(int rows, int classes) : base(nameof(MemoryModule))
        {
            register_buffer("bank", full(rows, classes, 1.0f / classes));
        }

        public Tensor Bank => get_buffer("bank")!;
    }

    [TestMethod]
    public void MethodFromOutsideTheLibrary_TrainsThroughAPipeline_AndItsTermsAppearInTheEpochMetrics()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        var options = new StudentOptions { Architecture = "resnet8", Epochs = 3, BatchSize = 32, Seed = 9, MetricsCallback = epochs.Add };

        var student = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Distillation.Distill(SharedTeacher.Pipeline, new KdWithLabelSmoothing(), options))
            .Fit(RealImages.Train(ml, 600));
        var metrics = ml.MulticlassClassification.Evaluate(student.Transform(RealImages.Test(ml, 300)));
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.25, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
        Assert.HasCount(3, epochs);
        Assert.IsTrue(epochs.All(m => m.Phase == "KD-LS"));
        CollectionAssert.AreEqual(new[] { "ce_smoothed", "kd" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.AreEqual(epochs[0].Loss, epochs[0].LossTerms.Values.Sum(), 1e-6);
        Assert.IsTrue(epochs.All(m => m.LossTerms.Values.All(v => v > 0 && double.IsFinite(v))));
        Assert.IsFalse(student.LastTransformer.Model.Network.named_parameters().Any(p => p.name.Contains("bank", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void StatefulMethod_CancelledAndResumed_GivesBitIdenticalWeightsAndBuffers()
    {
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        string folder = Directory.CreateTempSubdirectory("distill-method-").FullName;
        try
        {
            StudentOptions Options(string? dir) => new()
            {
                Architecture = "resnet8", Epochs = 3, BatchSize = 16, Seed = 21, CheckpointDirectory = dir,
            };

            var uninterruptedMethod = new RowMemoryMethod();
            using var uninterrupted = ml.Distillation.Distill(SharedTeacher.Teacher, uninterruptedMethod, Options(null)).Fit(data);

            using var cts = new CancellationTokenSource();
            var first = Options(folder);
            first.CancellationToken = cts.Token;
            first.MetricsCallback = m => { if (m.Epoch == 1) cts.Cancel(); };
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Distill(SharedTeacher.Teacher, new RowMemoryMethod(), first).Fit(data));

            var resumedMethod = new RowMemoryMethod();
            var again = Options(folder);
            again.Resume = true;
            using var resumed = ml.Distillation.Distill(SharedTeacher.Teacher, resumedMethod, again).Fit(data);

            var expected = uninterrupted.Model.Network.state_dict();
            foreach (var (name, tensor) in resumed.Model.Network.state_dict())
                Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs from the uninterrupted run");
            Assert.IsTrue(TensorAssert.Same(uninterruptedMethod.Memory!.Bank, resumedMethod.Memory!.Bank), "the memory buffer differs from the uninterrupted run");
            Assert.IsFalse(TensorAssert.Same(full(64, 10, 0.1f), resumedMethod.Memory.Bank), "the memory was updated");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A learned regressor from the student's embedding to the teacher's, trained (by default) with its own weight decay, 0, and twice the rate.</summary>
    private sealed class OwnOptimizerMethod(double? weightDecay = 0, double learningRateFactor = 2) : DistillationMethod
    {
        public TorchSharp.Modules.Linear? Regressor { get; private set; }

        public override string Name => "own-optimiser";

        public override IReadOnlyList<string> TermNames { get; } = ["ce", "hint"];

        public override double? ModuleWeightDecay => weightDecay;

        public override double ModuleLearningRateFactor => learningRateFactor;

        public override nn.Module? CreateModule(DistillationSetup setup)
            => Regressor = nn.Linear(setup.StudentEmbeddingSize, setup.TeacherEmbeddingSize);

        public override IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep step)
            => [("ce", nn.functional.cross_entropy(step.StudentLogits, step.Labels)),
                ("hint", nn.functional.mse_loss(Regressor!.call(step.StudentEmbedding), step.TeacherEmbedding))];
    }

    [TestMethod]
    public void MethodWithItsOwnOptimiserSettings_CancelledAndResumed_GivesBitIdenticalWeights()
    {
        // Two parameter groups (the student's, the regressor's) with their own momentum buffers, both restored from the checkpoint.
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        string folder = Directory.CreateTempSubdirectory("distill-method-groups-").FullName;
        try
        {
            StudentOptions Options(string? dir) => new()
            {
                Architecture = "resnet8", Epochs = 3, BatchSize = 16, Seed = 22, CheckpointDirectory = dir,
            };

            var uninterruptedMethod = new OwnOptimizerMethod();
            using var uninterrupted = ml.Distillation.Distill(SharedTeacher.Teacher, uninterruptedMethod, Options(null)).Fit(data);
            var plainMethod = new OwnOptimizerMethod(weightDecay: null, learningRateFactor: 1);
            using var plain = ml.Distillation.Distill(SharedTeacher.Teacher, plainMethod, Options(null)).Fit(data);

            using var cts = new CancellationTokenSource();
            var first = Options(folder);
            first.CancellationToken = cts.Token;
            first.MetricsCallback = m => { if (m.Epoch == 1) cts.Cancel(); };
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Distill(SharedTeacher.Teacher, new OwnOptimizerMethod(), first).Fit(data));
            var resumedMethod = new OwnOptimizerMethod();
            var again = Options(folder);
            again.Resume = true;
            using var resumed = ml.Distillation.Distill(SharedTeacher.Teacher, resumedMethod, again).Fit(data);

            var expected = uninterrupted.Model.Network.state_dict();
            foreach (var (name, tensor) in resumed.Model.Network.state_dict())
                Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs from the uninterrupted run");
            Assert.IsTrue(TensorAssert.Same(uninterruptedMethod.Regressor!.weight!, resumedMethod.Regressor!.weight!), "the regressor differs from the uninterrupted run");
            Assert.IsFalse(TensorAssert.Same(uninterruptedMethod.Regressor.weight!, plainMethod.Regressor!.weight!), "the module's own settings changed its training");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void BadMethods_AreRefusedNamingWhatIsWrong()
    {
        var ml = SharedTeacher.Ml;

        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Distill(SharedTeacher.Teacher, new BadTerms(), new StudentOptions()));
        var rate = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Distill(SharedTeacher.Teacher, new BadRate(), new StudentOptions()));
        StringAssert.Contains(e.Message, "TermNames");
        StringAssert.Contains(rate.Message, "ModuleLearningRateFactor is 0");
    }

    private sealed class BadRate : DistillationMethod
    {
        public override string Name => "bad-rate";

        public override IReadOnlyList<string> TermNames { get; } = ["a"];

        public override double ModuleLearningRateFactor => 0;

        public override IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep step) => [];
    }

    private sealed class BadTerms : DistillationMethod
    {
        public override string Name => "bad";

        public override IReadOnlyList<string> TermNames { get; } = ["a", "a"];

        public override IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep step) => [];
    }
}
