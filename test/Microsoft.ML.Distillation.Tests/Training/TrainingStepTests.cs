// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Training;

/// <summary>What a loss sees of its place in the training (<see cref="TrainingStep"/>): epoch, step, the batch's rows, a per-step seed.</summary>
[TestClass]
public sealed class TrainingStepTests
{
    private sealed class RecordingLoss : IDistillationLoss
    {
        public List<TrainingStep> Steps { get; } = [];
        public List<long[]> Labels { get; } = [];
        public IReadOnlyList<string> TermNames { get; } = ["ce"];
        public bool RequiresTeacher => false;
        public bool UsesAuxiliaryBranches => false;
        public bool UsesRotations => false;

        public LossResult Compute(LossBatch batch)
        {
            Steps.Add(batch.Step);
            Labels.Add(batch.Labels.data<long>().ToArray());
            var ce = LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels);
            return new LossResult(ce, [new("ce", ce)]);
        }
    }

    private static RecordingLoss Train(ImageTensorDataset data, int seed)
    {
        var loss = new RecordingLoss();
        manual_seed(1);
        using var student = NetworkRegistry.Create("resnet8", 3, data.ClassCount, rotationCount: 1);
        using var normalization = ChannelNormalization.FromValues([120f, 110f, 100f], [60f, 70f, 65f], 3);
        var settings = new TrainingSettings
        {
            Phase = "test", Epochs = 2, BatchSize = 4, Schedule = new LearningRateSchedule(0.01, [], 0.1), Momentum = 0.9,
            Nesterov = true, WeightDecay = 0, Seed = seed, Device = CPU, RandomCropPadding = 0, HorizontalFlip = false,
        };
        using var channel = ((IHostEnvironment)new MLContext(seed: 1)).Register("test").Start("test");
        new TrainingEngine(channel, null).Run(student, null, loss, data, null, normalization, settings);
        return loss;
    }

    [TestMethod]
    public void EachStep_KnowsItsEpochStepRowsAndSeed_AsAFunctionOfTheSeedAndPosition()
    {
        using var data = SyntheticImages.Dataset(rows: 10, size: 8, classes: 3, seed: 5);
        long[] allLabels = data.Labels.data<long>().ToArray();

        var first = Train(data, seed: 7);
        var again = Train(data, seed: 7);
        var other = Train(data, seed: 8);

        // 10 rows in batches of 4: 3 steps an epoch (4, 4, 2), 2 epochs.
        Assert.HasCount(6, first.Steps);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 1, 1, 1 }, first.Steps.Select(s => s.Epoch).ToArray());
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 0, 1, 2 }, first.Steps.Select(s => s.Index).ToArray());
        Assert.IsTrue(first.Steps.All(s => s.EpochCount == 2));
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var rows = first.Steps.Where(s => s.Epoch == epoch).SelectMany(s => s.RowIndices).ToArray();
            CollectionAssert.AreEquivalent(Enumerable.Range(0, 10).ToArray(), rows, $"epoch {epoch} sees every row once");
        }
        for (int i = 0; i < first.Steps.Count; i++)
            CollectionAssert.AreEqual(first.Steps[i].RowIndices.Select(r => allLabels[r]).ToArray(), first.Labels[i], $"step {i}: the rows are the batch's rows");

        Assert.HasCount(6, first.Steps.Select(s => s.Seed).Distinct(), "a seed per step");
        CollectionAssert.AreEqual(first.Steps.Select(s => s.Seed).ToArray(), again.Steps.Select(s => s.Seed).ToArray(), "same training seed, same step seeds");
        CollectionAssert.AreEqual(first.Steps.SelectMany(s => s.RowIndices).ToArray(), again.Steps.SelectMany(s => s.RowIndices).ToArray());
        Assert.IsFalse(first.Steps.Select(s => s.Seed).SequenceEqual(other.Steps.Select(s => s.Seed)), "another training seed, other step seeds");
    }

    [TestMethod]
    public void StepGenerator_DrawsTheSameNumbersForTheSameSeed()
    {
        var step = new TrainingStep(1, 3, 2, [4, 5], Seed: 12345);
        using var a = step.CreateGenerator();
        using var b = step.CreateGenerator();
        using var c = (step with { Seed = 54321 }).CreateGenerator();
        using var x = randperm(20, generator: a);
        using var y = randperm(20, generator: b);
        using var z = randperm(20, generator: c);

        CollectionAssert.AreEqual(x.data<long>().ToArray(), y.data<long>().ToArray());
        CollectionAssert.AreNotEqual(x.data<long>().ToArray(), z.data<long>().ToArray());
    }
}
