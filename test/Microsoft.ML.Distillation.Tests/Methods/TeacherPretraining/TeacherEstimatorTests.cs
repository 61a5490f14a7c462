// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using TorchSharp;

namespace Microsoft.ML.Distillation.Tests.Methods.TeacherPretraining;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class TeacherEstimatorTests
{
    private static TeacherOptions SmallTeacher(int epochs = 2, int seed = 7) => new()
    {
        Architecture = "resnet8",
        Epochs = epochs,
        BatchSize = 32,
        LearningRate = 0.05,
        Seed = seed,
        NumberOfThreads = 2,
    };

    private static ITransformer FitTeacher(MLContext ml, IDataView train, TeacherOptions options)
        => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Distillation.Teacher(options)).Fit(train);

    [TestMethod]
    public void Teacher_OnRealImages_BeatsChance_AndEvaluates()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var epochs = new List<TrainingMetrics>();
        var options = SmallTeacher();
        options.MetricsCallback = epochs.Add;
        options.ValidationSet = ml.Transforms.Conversion.MapValueToKey("Label").Fit(RealImages.Train(ml, 600)).Transform(RealImages.Test(ml, 200));

        var model = FitTeacher(ml, RealImages.Train(ml, 600), options);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(RealImages.Test(ml, 300)));
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}");

        Assert.IsGreaterThan(0.35, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
        Assert.AreEqual(2, epochs.Count);
        Assert.AreEqual("Teacher", epochs[0].Phase);
        CollectionAssert.AreEquivalent(new[] { "ce", "aux_ce" }, epochs[1].LossTerms.Keys.ToArray());
        Assert.AreEqual(epochs[1].Loss, epochs[1].LossTerms.Values.Sum(), 1e-9);
        Assert.IsLessThan(epochs[0].Loss, epochs[1].Loss, "the loss falls from epoch 1 to epoch 2");
        Assert.IsNotNull(epochs[1].ValidationAccuracy);
        Assert.IsTrue(log.Any(m => m.Contains("Teacher epoch 2/2: loss", StringComparison.Ordinal) && m.Contains("val acc", StringComparison.Ordinal)),
            "per-epoch progress reaches mlContext.Log");
        string table = metrics.ConfusionMatrix.GetFormattedConfusionTable();
        StringAssert.Contains(table, "Sneaker", "class names come from the label keys");
    }

    [TestMethod]
    public void Teacher_SameSeed_IdenticalWeights_DifferentSeed_Differs()
    {
        var ml = new MLContext(seed: 1);
        var train = RealImages.Train(ml, 128);

        var a = ((TransformerChain<ImageClassifierTransformer>)FitTeacher(ml, train, SmallTeacher(epochs: 1, seed: 3))).LastTransformer;
        var b = ((TransformerChain<ImageClassifierTransformer>)FitTeacher(ml, train, SmallTeacher(epochs: 1, seed: 3))).LastTransformer;
        var c = ((TransformerChain<ImageClassifierTransformer>)FitTeacher(ml, train, SmallTeacher(epochs: 1, seed: 4))).LastTransformer;

        var sa = a.Model.Network.state_dict();
        var sb = b.Model.Network.state_dict();
        var sc = c.Model.Network.state_dict();
        Assert.AreEqual(sa.Count, sb.Count);
        foreach (var (name, tensor) in sa)
            Assert.IsTrue(TensorAssert.Same(tensor, sb[name]), $"'{name}' differs between two runs with the same seed");
        Assert.IsTrue(sa.Any(kv => !TensorAssert.Same(kv.Value, sc[kv.Key])), "a different seed gives different weights");
    }

    [TestMethod]
    public void Teacher_FromImageFiles_ThroughLoadImages_Trains()
    {
        var ml = new MLContext(seed: 1);
        string folder = Path.Combine(Path.GetTempPath(), $"distill-png-{Guid.NewGuid():N}");
        try
        {
            var rows = RealImages.WritePngs(folder, 160);
            var data = ml.Data.LoadFromEnumerable(rows);
            var options = SmallTeacher(epochs: 1);
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.Transforms.LoadImages("Image", folder, nameof(RealImages.ImageFileRow.ImagePath)))
                .Append(ml.Transforms.ResizeImages("Image", 32, 32))
                .Append(ml.Distillation.Teacher(options));

            var model = pipeline.Fit(data);
            var scored = model.Transform(data);

            var teacher = (ImageClassifierTransformer)model.LastTransformer;
            Assert.AreEqual(new ImageShape(3, 32, 32), teacher.InputShape);
            var scores = scored.GetColumn<float[]>("Score").ToList();
            Assert.HasCount(160, scores);
            foreach (var s in scores)
                Assert.AreEqual(1.0, s.Sum(), 1e-4);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void FrozenBackbone_TrainsOnlyAuxiliaryBranches()
    {
        var ml = new MLContext(seed: 1);
        var train = RealImages.Train(ml, 96);
        string path = Path.Combine(Path.GetTempPath(), $"teacher-{Guid.NewGuid():N}.zip");
        try
        {
            var first = ((TransformerChain<ImageClassifierTransformer>)FitTeacher(ml, train, SmallTeacher(epochs: 1))).LastTransformer;
            first.Save(path);
            var frozen = SmallTeacher(epochs: 1, seed: 11);
            frozen.Mode = TeacherTrainingMode.FrozenBackbone;
            frozen.InitialModelPath = path;

            var second = (ImageClassifierTransformer)((TransformerChain<ImageClassifierTransformer>)FitTeacher(ml, train, frozen)).LastTransformer;

            var before = first.Model.Network.Backbone.state_dict();
            foreach (var (name, tensor) in second.Model.Network.Backbone.state_dict())
                Assert.IsTrue(TensorAssert.Same(tensor, before[name]), $"backbone '{name}' (weights and BN statistics) must not change");
            var auxBefore = first.Model.Network.Auxiliary.state_dict();
            Assert.IsTrue(second.Model.Network.Auxiliary.state_dict().Any(kv => !TensorAssert.Same(kv.Value, auxBefore[kv.Key])), "the auxiliary branches train");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void FrozenBackbone_WithoutInitialModel_IsRefused()
    {
        var ml = new MLContext();
        var options = SmallTeacher();
        options.Mode = TeacherTrainingMode.FrozenBackbone;

        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Teacher(options));

        Assert.AreEqual(nameof(TeacherOptions.InitialModelPath), e.ParamName);
    }

    [TestMethod]
    [DataRow(nameof(TeacherOptions.BatchSize))]
    [DataRow(nameof(TeacherOptions.Epochs))]
    [DataRow(nameof(TeacherOptions.LearningRate))]
    [DataRow(nameof(TeacherOptions.LearningRateMilestones))]
    public void AbsurdOptions_AreRefusedBeforeTraining(string option)
    {
        var ml = new MLContext();
        var options = SmallTeacher();
        switch (option)
        {
            case nameof(TeacherOptions.BatchSize): options.BatchSize = 0; break;
            case nameof(TeacherOptions.Epochs): options.Epochs = 0; break;
            case nameof(TeacherOptions.LearningRate): options.LearningRate = -0.1; break;
            case nameof(TeacherOptions.LearningRateMilestones): options.LearningRateMilestones = [0, 5]; break;
        }

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.Teacher(options));

        Assert.AreEqual(option, e.ParamName);
    }

    [TestMethod]
    public void UnknownArchitecture_ListsTheValidNames()
    {
        var ml = new MLContext();

        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Teacher(architecture: "resnet9000"));

        Assert.AreEqual(nameof(TeacherOptions.Architecture), e.ParamName);
        StringAssert.Contains(e.Message, "resnet9000");
        StringAssert.Contains(e.Message, "wrn40_2");
        StringAssert.Contains(e.Message, "vgg13");
    }

    [TestMethod]
    public void NonSquareImages_AreRefused_NamingTheColumn()
    {
        var ml = new MLContext();
        var rows = Enumerable.Range(0, 8).Select(i => new WideImage { Image = new byte[2 * 3], Label = i % 2 == 0 ? "a" : "b" });
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = SmallTeacher(epochs: 1);

        var e = Assert.ThrowsExactly<ArgumentException>(() => FitTeacher(ml, data, options));

        StringAssert.Contains(e.Message, "'Image'");
        StringAssert.Contains(e.Message, "square");
    }

    private sealed class WideImage
    {
        [VectorType(1, 2, 3)]
        public byte[] Image { get; set; } = Array.Empty<byte>();

        public string Label { get; set; } = "";
    }
}
