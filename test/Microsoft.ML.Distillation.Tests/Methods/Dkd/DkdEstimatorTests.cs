// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Methods.Dkd;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class DkdEstimatorTests
{
    [TestMethod]
    public void Dkd_OnRealImages_TrainsThroughAPipeline_AndBeatsChance()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        // Three epochs, as the other real-image tests (one epoch at the full rate leaves the accuracy to chance); WarmupEpochs 2 so
        // the first epoch runs at half the distillation weight.
        var options = new DkdOptions
        {
            Architecture = "resnet8", Epochs = 3, BatchSize = 32, Seed = 9, WarmupEpochs = 2, MetricsCallback = epochs.Add,
        };

        var student = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Distillation.Dkd(SharedTeacher.Pipeline, options))
            .Fit(RealImages.Train(ml, 600));
        var metrics = ml.MulticlassClassification.Evaluate(student.Transform(RealImages.Test(ml, 300)));
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.25, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
        Assert.HasCount(3, epochs);
        Assert.IsTrue(epochs.All(m => m.Phase == "DKD"));
        CollectionAssert.AreEqual(new[] { "ce", "tckd", "nckd" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs.All(m => m.LossTerms.Values.All(v => v > 0 && double.IsFinite(v))), string.Join("; ", epochs));
    }

    [TestMethod]
    [DataRow(nameof(DkdOptions.Temperature))]
    [DataRow(nameof(DkdOptions.NonTargetWeight))]
    [DataRow(nameof(DkdOptions.WarmupEpochs))]
    public void AbsurdOptions_AreRefusedBeforeTraining_NamingTheOption(string option)
    {
        var options = new DkdOptions();
        switch (option)
        {
            case nameof(DkdOptions.Temperature): options.Temperature = 0; break;
            case nameof(DkdOptions.NonTargetWeight): options.NonTargetWeight = -1; break;
            case nameof(DkdOptions.WarmupEpochs): options.WarmupEpochs = 0; break;
        }

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SharedTeacher.Ml.Distillation.Dkd(SharedTeacher.Teacher, options));

        Assert.AreEqual(option, e.ParamName);
    }
}
