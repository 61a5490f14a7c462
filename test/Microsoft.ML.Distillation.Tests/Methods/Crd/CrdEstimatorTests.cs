// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Methods.Crd;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class CrdEstimatorTests
{
    [TestMethod]
    public void Crd_OnRealImages_TrainsThroughAPipeline_BeatsChance_AndSaysWhenNegativesMustRepeat()
    {
        var ml = new MLContext(seed: 5);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("CRD:", StringComparison.Ordinal)) log.Add(e.Message); };
        var epochs = new List<TrainingMetrics>();
        // 600 rows: a sample has at most about 540 rows of other classes, fewer than the 1,024 negatives asked for.
        var options = new CrdOptions
        {
            Architecture = "vgg8", Epochs = 3, BatchSize = 32, Seed = 9, NegativeCount = 1024, MetricsCallback = epochs.Add,
        };

        var (accuracy, student) = RealImages.FitAndScore(ml, ml.Distillation.Crd(SharedTeacher.Pipeline, options));
        Console.WriteLine($"accuracy {accuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.2, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        CollectionAssert.AreEqual(new[] { "ce", "crd" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs.All(m => m.LossTerms.Values.All(v => v > 0 && double.IsFinite(v))), string.Join("; ", epochs));
        Assert.IsTrue(log.Any(m => m.Contains("NegativeCount is 1024", StringComparison.Ordinal) && m.Contains("drawn with replacement", StringComparison.Ordinal)),
            string.Join(" | ", log));
        using var bare = Microsoft.ML.Distillation.Networks.NetworkRegistry.Create("vgg8", 1, 10);
        Assert.AreEqual(bare.Backbone.parameters().Sum(p => p.numel()), student.LastTransformer.InferenceParameterCount, "heads and banks are not shipped");
    }

    [TestMethod]
    public void Crd_CancelledAndResumed_GivesBitIdenticalWeights()
    {
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        string folder = Directory.CreateTempSubdirectory("distill-crd-").FullName;
        try
        {
            CrdOptions Options(string? dir) => new()
            {
                Architecture = "resnet8", Epochs = 3, BatchSize = 16, Seed = 21, NegativeCount = 32, CheckpointDirectory = dir, DistillationWeight = 1,
            };

            using var uninterrupted = ml.Distillation.Crd(SharedTeacher.Teacher, Options(null)).Fit(data);

            using var cts = new CancellationTokenSource();
            var first = Options(folder);
            first.CancellationToken = cts.Token;
            first.MetricsCallback = m => { if (m.Epoch == 1) cts.Cancel(); };
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Crd(SharedTeacher.Teacher, first).Fit(data));
            var again = Options(folder);
            again.Resume = true;
            using var resumed = ml.Distillation.Crd(SharedTeacher.Teacher, again).Fit(data);

            // The banks and Z written at epoch 1 decide every later step's scores, so equal weights after epoch 3 need them restored.
            var expected = uninterrupted.Model.Network.state_dict();
            foreach (var (name, tensor) in resumed.Model.Network.state_dict())
                Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs from the uninterrupted run");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(nameof(CrdOptions.NegativeCount))]
    [DataRow(nameof(CrdOptions.ContrastTemperature))]
    [DataRow(nameof(CrdOptions.MemoryMomentum))]
    [DataRow(nameof(CrdOptions.EmbeddingWidth))]
    public void AbsurdOptions_AreRefusedBeforeTraining_NamingTheOption(string option)
    {
        var options = new CrdOptions();
        switch (option)
        {
            case nameof(CrdOptions.NegativeCount): options.NegativeCount = 0; break;
            case nameof(CrdOptions.ContrastTemperature): options.ContrastTemperature = 0; break;
            case nameof(CrdOptions.MemoryMomentum): options.MemoryMomentum = 1; break;
            case nameof(CrdOptions.EmbeddingWidth): options.EmbeddingWidth = 0; break;
        }

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SharedTeacher.Ml.Distillation.Crd(SharedTeacher.Teacher, options));

        Assert.AreEqual(option, e.ParamName);
    }
}
