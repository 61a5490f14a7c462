// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Training;

namespace Microsoft.ML.Distillation.Tests.Methods.Mgd;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class MgdEstimatorTests
{
    private static MgdOptions Small(int seed = 9, int teacherBranchEpochs = 1) => new()
    {
        Architecture = "resnet8",
        Epochs = 1,
        BatchSize = 32,
        Seed = seed,
        TeacherBranchEpochs = teacherBranchEpochs,
    };

    private static IDataView Keyed(IDataView raw) => SharedTeacher.Pipeline.First().Transform(raw);

    [TestMethod]
    public void Mgd_OnRealImages_TrainsThroughAPipeline_AndBeatsChance()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        // Three epochs, as the other real-image tests (one epoch at the full rate leaves the accuracy to chance).
        var options = Small(teacherBranchEpochs: 2);
        options.Epochs = 3;
        options.MetricsCallback = epochs.Add;

        var student = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Distillation.Mgd(SharedTeacher.Pipeline, options))
            .Fit(RealImages.Train(ml, 600));
        var metrics = ml.MulticlassClassification.Evaluate(student.Transform(RealImages.Test(ml, 300)));
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.25, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
        var stage = epochs.Where(m => m.Phase == "MGD teacher branches").ToList();
        var main = epochs.Where(m => m.Phase == "MGD").ToList();
        Assert.HasCount(2, stage);
        Assert.HasCount(3, main);
        CollectionAssert.AreEqual(new[] { "narrow", "wide" }, stage[0].LossTerms.Keys.ToArray());
        CollectionAssert.AreEqual(new[] { "ce", "kd", "narrow", "wide" }, main[0].LossTerms.Keys.ToArray());
        Assert.IsLessThan(stage[0].Loss, stage[1].Loss, "the branches learn in their pre-stage");
        Assert.IsTrue(main.All(m => m.LossTerms.Values.All(v => v > 0 && double.IsFinite(v))), string.Join("; ", main));
    }

    [TestMethod]
    public void MgdOnACrdBase_AddsTheCrdTerm_TrainsTheBanksWithTheEncoders_AndBeatsChance()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        var options = Small(teacherBranchEpochs: 1);
        options.Epochs = 3;
        options.CrossEntropyWeight = 1;
        options.DistillationWeight = 1;
        options.Contrast = new CrdOptions { NegativeCount = 256 };
        options.MetricsCallback = epochs.Add;

        var (accuracy, student) = RealImages.FitAndScore(ml, ml.Distillation.Mgd(SharedTeacher.Pipeline, options));

        Assert.IsGreaterThan(0.25, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        var main = epochs.Where(m => m.Phase == "MGD").ToList();
        CollectionAssert.AreEqual(new[] { "ce", "kd", "narrow", "wide", "crd" }, main[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(main.All(m => m.LossTerms["crd"] > 0 && double.IsFinite(m.LossTerms["crd"])), string.Join("; ", main));
        Assert.AreEqual(NetworkRegistry.Create(options.Architecture, 1, 10).Backbone.parameters().Sum(p => p.numel()), student.LastTransformer.InferenceParameterCount);

        options.Contrast = new CrdOptions { NegativeCount = 0 };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.Mgd(SharedTeacher.Pipeline, options));
        Assert.AreEqual(nameof(CrdOptions.NegativeCount), e.ParamName);
    }

    [TestMethod]
    public void Mgd_TrainsTheTeacherBranchesOncePerTeacherAndSettings_AndTheStudentIsTheSameWhetherCachedOrNot()
    {
        var ml = SharedTeacher.Ml;
        var data = Keyed(RealImages.Train(ml, 96));
        var teacher = SharedTeacher.Teacher.Model;
        int before = TeacherStageCache.CountFor(teacher);
        var firstPhases = new List<string>();
        var secondPhases = new List<string>();
        var otherPhases = new List<string>();
        var first = Small(seed: 4, teacherBranchEpochs: 2);
        first.MetricsCallback = m => firstPhases.Add(m.Phase);
        var second = Small(seed: 4, teacherBranchEpochs: 2);
        second.MetricsCallback = m => secondPhases.Add(m.Phase);
        var narrower = Small(seed: 4, teacherBranchEpochs: 2);
        narrower.NarrowCodeSize = 32;
        narrower.MetricsCallback = m => otherPhases.Add(m.Phase);

        using var a = ml.Distillation.Mgd(SharedTeacher.Teacher, first).Fit(data);
        Assert.AreEqual(before + 1, TeacherStageCache.CountFor(teacher));
        using var b = ml.Distillation.Mgd(SharedTeacher.Teacher, second).Fit(data);
        Assert.AreEqual(before + 1, TeacherStageCache.CountFor(teacher), "the second student reused the branches");
        using var c = ml.Distillation.Mgd(SharedTeacher.Teacher, narrower).Fit(data);

        Assert.AreEqual(before + 2, TeacherStageCache.CountFor(teacher), "another code size trains its own branches");
        CollectionAssert.AreEqual(new[] { "MGD teacher branches", "MGD teacher branches", "MGD" }, firstPhases);
        CollectionAssert.AreEqual(new[] { "MGD" }, secondPhases);
        CollectionAssert.AreEqual(new[] { "MGD teacher branches", "MGD teacher branches", "MGD" }, otherPhases);
        var expected = a.Model.Network.state_dict();
        foreach (var (name, tensor) in b.Model.Network.state_dict())
            Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs between the run that trained the branches and the one that reused them");
    }

    [TestMethod]
    public void Mgd_LeavesTheTeacherExactlyAsItWas()
    {
        var ml = SharedTeacher.Ml;
        using var snapshot = new TeacherSnapshot(SharedTeacher.Teacher.Model.Network);

        ml.Distillation.Mgd(SharedTeacher.Teacher, Small(seed: 6)).Fit(Keyed(RealImages.Train(ml, 64)));

        snapshot.AssertUnchanged();
    }

    [TestMethod]
    [DataRow(nameof(MgdOptions.Temperature))]
    [DataRow(nameof(MgdOptions.GranularityWeight))]
    [DataRow(nameof(MgdOptions.WideTemperature))]
    [DataRow(nameof(MgdOptions.NarrowCodeSize))]
    [DataRow(nameof(MgdOptions.TeacherBranchEpochs))]
    [DataRow(nameof(MgdOptions.TeacherBranchLearningRate))]
    public void AbsurdOptions_AreRefusedBeforeTraining_NamingTheOption(string option)
    {
        var options = new MgdOptions();
        switch (option)
        {
            case nameof(MgdOptions.Temperature): options.Temperature = 0; break;
            case nameof(MgdOptions.GranularityWeight): options.GranularityWeight = double.NaN; break;
            case nameof(MgdOptions.WideTemperature): options.WideTemperature = -8; break;
            case nameof(MgdOptions.NarrowCodeSize): options.NarrowCodeSize = 0; break;
            case nameof(MgdOptions.TeacherBranchEpochs): options.TeacherBranchEpochs = 0; break;
            case nameof(MgdOptions.TeacherBranchLearningRate): options.TeacherBranchLearningRate = double.PositiveInfinity; break;
        }

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SharedTeacher.Ml.Distillation.Mgd(SharedTeacher.Teacher, options));

        Assert.AreEqual(option, error.ParamName);
        StringAssert.Contains(error.Message, option);
    }

    [TestMethod]
    public void Defaults_AreTheReferenceKdScripts()
    {
        var o = new MgdOptions();

        Assert.AreEqual((0.2, 0.8, 4.0, 1.0, true), (o.CrossEntropyWeight, o.DistillationWeight, o.Temperature, o.GranularityWeight, o.StableExcitation));
        Assert.AreEqual((64, 2.0, 256, 8.0), (o.NarrowCodeSize, o.NarrowTemperature, o.WideCodeSize, o.WideTemperature));
        Assert.AreEqual((60, 0.01), (o.TeacherBranchEpochs, o.TeacherBranchLearningRate));
        Assert.IsInstanceOfType<MgdEstimator>(SharedTeacher.Ml.Distillation.Distill(SharedTeacher.Teacher, o), "Distill dispatches on the options type");
    }
}
