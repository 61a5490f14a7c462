// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Estimators;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class FeatureDistillationEstimatorTests
{
    private static FeatureDistillationOptions Options(string method) => method switch
    {
        "SP" => new SpOptions(),
        "AT" => new AtOptions(),
        "PKT" => new PktOptions(),
        "RKD" => new RkdOptions(),
        "FitNet" => new FitNetOptions(),
        "SimReg" => new SimRegOptions(),
        "MSFD" => new MsfdOptions(),
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    private static readonly Dictionary<string, string[]> Terms = new()
    {
        ["SP"] = ["ce", "sp"], ["AT"] = ["ce", "at"], ["PKT"] = ["ce", "pkt"], ["RKD"] = ["ce", "rkd_distance", "rkd_angle"],
        ["FitNet"] = ["ce", "hint"], ["SimReg"] = ["ce", "regression"],
        ["MSFD"] = ["ce", "msfd_sample", "msfd_feature"],
    };

    [TestMethod]
    [DataRow("SP")]
    [DataRow("AT")]
    [DataRow("PKT")]
    [DataRow("RKD")]
    [DataRow("FitNet")]
    [DataRow("SimReg")]
    [DataRow("MSFD")]
    public void Method_OnRealImages_TrainsThroughAPipeline_FromAnotherFamilysTeacher_AndBeatsChance(string method)
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        // Three epochs, as the other real-image tests (one epoch at the full rate leaves the accuracy to chance). The student is a
        // vgg8 under the resnet8 teacher: other channel counts, map sizes, embedding width and number of stages (FitNet's regressor
        // and SimReg's predictor adapt, MSFD adds a 1x1 convolution for the widths; the other four need no adapter).
        var options = Options(method);
        options.Architecture = "vgg8";
        options.Epochs = 3;
        options.BatchSize = 32;
        options.Seed = 9;
        options.MetricsCallback = epochs.Add;

        var (accuracy, student) = RealImages.FitAndScore(ml, ml.Distillation.Distill(SharedTeacher.Pipeline, options));
        Console.WriteLine($"{method}: accuracy {accuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.2, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        Assert.HasCount(3, epochs);
        Assert.IsTrue(epochs.All(m => m.Phase == method));
        CollectionAssert.AreEqual(Terms[method], epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs.All(m => m.LossTerms.Values.All(v => v >= 0 && double.IsFinite(v))), string.Join("; ", epochs));
        Assert.IsTrue(epochs[0].LossTerms[Terms[method][1]] > 0, "the method's term is not zero");
        using var bare = Microsoft.ML.Distillation.Networks.NetworkRegistry.Create("vgg8", 1, 10);
        Assert.AreEqual(bare.Backbone.parameters().Sum(p => p.numel()), student.LastTransformer.InferenceParameterCount,
            "adapters, regressors and predictors train with the student but are not part of the fitted model");
    }

    [TestMethod]
    public void KdOnTop_AddsAKdTerm_WeightedAsAsked()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        var options = new SpOptions
        {
            Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 9, CrossEntropyWeight = 0.1, DistillationWeight = 0.9, MetricsCallback = epochs.Add,
        };

        ml.Distillation.Sp(SharedTeacher.Teacher, options).Fit(SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64)));

        CollectionAssert.AreEqual(new[] { "ce", "kd", "sp" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs[0].LossTerms["kd"] > 0);
    }

    [TestMethod]
    [DataRow("SP", nameof(SpOptions.SimilarityWeight))]
    [DataRow("AT", nameof(AtOptions.Power))]
    [DataRow("PKT", nameof(PktOptions.TransferWeight))]
    [DataRow("RKD", nameof(RkdOptions.AngleWeight))]
    [DataRow("SP", nameof(FeatureDistillationOptions.DistillationWeight))]
    [DataRow("RKD", nameof(FeatureDistillationOptions.Temperature))]
    [DataRow("FitNet", nameof(FitNetOptions.HintWeight))]
    [DataRow("SimReg", nameof(SimRegOptions.RegressionWeight))]
    [DataRow("MSFD", nameof(MsfdOptions.ContrastTemperature))]
    public void AbsurdOptions_AreRefusedBeforeTraining_NamingTheOption(string method, string option)
    {
        var options = Options(method);
        var field = options.GetType().GetField(option)!;
        field.SetValue(options, option is nameof(AtOptions.Power) or nameof(FeatureDistillationOptions.Temperature) or nameof(MsfdOptions.ContrastTemperature) ? 0.0 : -1.0);

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SharedTeacher.Ml.Distillation.Distill(SharedTeacher.Teacher, options));

        Assert.AreEqual(option, e.ParamName);
    }

    [TestMethod]
    public void FitNet_WithAHintStageOneNetworkLacks_IsRefusedBeforeTheFirstStep()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        var options = new FitNetOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 32, HintStage = 3, MetricsCallback = epochs.Add };

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.Distillation.FitNet(SharedTeacher.Teacher, options).Fit(SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 32))));

        Assert.AreEqual(nameof(FitNetOptions.HintStage), e.ParamName);
        StringAssert.Contains(e.Message, "the student 'resnet8' has 3 stages and the teacher 'resnet8' 3");
        Assert.IsEmpty(epochs);
    }

    [TestMethod]
    public void RelationTerms_OnALastBatchOfOneSample_AreZero_NotNaNOrAnError()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var embedding = TorchSharp.torch.randn(1, 8);
        var logits = TorchSharp.torch.randn(1, 10);
        var student = new Microsoft.ML.Distillation.Networks.NetworkOutput(logits, embedding, [], []);
        var teacher = new Microsoft.ML.Distillation.Networks.NetworkOutput(TorchSharp.torch.randn(1, 10), TorchSharp.torch.randn(1, 6), [], []);
        var batch = new Microsoft.ML.Distillation.Distillers.LossBatch(student, teacher, TorchSharp.torch.tensor(new long[] { 3 }), TorchSharp.torch.tensor(new long[] { 3 }), 1);
        using var predictor = new Microsoft.ML.Distillation.Methods.SimReg.EmbeddingPredictor(8, 6);
        predictor.train();

        var rkd = new Microsoft.ML.Distillation.Methods.Rkd.RkdLoss(1, 0, 4, 25, 50).Compute(batch);
        var simreg = new Microsoft.ML.Distillation.Methods.SimReg.SimRegLoss(1, 0, 4, 1, predictor).Compute(batch);

        Assert.AreEqual(0f, rkd.Terms[1].Value.item<float>());
        Assert.AreEqual(0f, rkd.Terms[2].Value.item<float>());
        Assert.AreEqual(0f, simreg.Terms[1].Value.item<float>());
        Assert.IsTrue(float.IsFinite(rkd.Total.item<float>()) && float.IsFinite(simreg.Total.item<float>()));
    }
}
