// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Methods.Sskd;
using Microsoft.ML.Distillation.Training;

namespace Microsoft.ML.Distillation.Tests.Methods.Sskd;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class SskdEstimatorTests
{
    private static SskdOptions Small(int seed = 9, int teacherHeadEpochs = 1, string architecture = "resnet8") => new()
    {
        Architecture = architecture,
        Epochs = 1,
        BatchSize = 32,
        Seed = seed,
        TeacherHeadEpochs = teacherHeadEpochs,
    };

    private static IDataView Keyed(IDataView raw) => SharedTeacher.Pipeline.First().Transform(raw);

    [TestMethod]
    public void Sskd_OnRealImages_TrainsThroughAPipeline_AndBeatsChance()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        var options = Small();
        // Three epochs, not one: after one epoch of 19 steps at the full rate (no decay yet) the eval-mode accuracy of any method here
        // is a lottery (SSKD 13-41 %, HSAKD 20-50 %, seeds 9-11, AVX-512 and AVX2 kernels), and an Intel Xeon drew 12.7 %. With the
        // rate decayed at epochs 1 and 2, SSKD reached 38-43 % (teacher 46 %) for seeds 9-11 with both kernel sets (2026-12-04).
        options.Epochs = 3;
        options.MetricsCallback = epochs.Add;

        var student = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Distillation.Sskd(SharedTeacher.Pipeline, options))
            .Fit(RealImages.Train(ml, 600));
        var metrics = ml.MulticlassClassification.Evaluate(student.Transform(RealImages.Test(ml, 300)));
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}");

        Assert.IsGreaterThan(0.25, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
        Assert.HasCount(3, epochs.Where(m => m.Phase == "SSKD"));
        var sskd = epochs.Last(m => m.Phase == "SSKD");
        CollectionAssert.AreEqual(new[] { "ce", "kd", "kd_rotated", "similarity" }, sskd.LossTerms.Keys.ToArray());
        Assert.IsTrue(sskd.LossTerms.Values.All(v => v > 0 && double.IsFinite(v)), string.Join(", ", sskd.LossTerms));
    }

    [TestMethod]
    public void Sskd_TrainsTheTeacherHeadOnce_AndTheStudentIsTheSameWhetherTheHeadWasCachedOrNot()
    {
        var ml = SharedTeacher.Ml;
        var data = Keyed(RealImages.Train(ml, 96));
        var teacher = SharedTeacher.Teacher.Model;
        int before = TeacherStageCache.CountFor(teacher);
        var firstPhases = new List<string>();
        var secondPhases = new List<string>();
        var first = Small(seed: 4, teacherHeadEpochs: 3);
        first.MetricsCallback = m => firstPhases.Add(m.Phase);
        var second = Small(seed: 4, teacherHeadEpochs: 3);
        second.MetricsCallback = m => secondPhases.Add(m.Phase);

        using var a = ml.Distillation.Sskd(SharedTeacher.Teacher, first).Fit(data);
        Assert.AreEqual(before + 1, TeacherStageCache.CountFor(teacher));
        using var b = ml.Distillation.Sskd(SharedTeacher.Teacher, second).Fit(data);

        Assert.AreEqual(before + 1, TeacherStageCache.CountFor(teacher), "the second student reused the head");
        CollectionAssert.AreEqual(new[] { "SSKD teacher head", "SSKD teacher head", "SSKD teacher head", "SSKD" }, firstPhases);
        CollectionAssert.AreEqual(new[] { "SSKD" }, secondPhases);
        var expected = a.Model.Network.state_dict();
        foreach (var (name, tensor) in b.Model.Network.state_dict())
            Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs between the run that trained the head and the one that reused it");
    }

    [TestMethod]
    public void Sskd_LeavesTheTeacherExactlyAsItWas()
    {
        var ml = SharedTeacher.Ml;
        using var snapshot = new TeacherSnapshot(SharedTeacher.Teacher.Model.Network);

        ml.Distillation.Sskd(SharedTeacher.Teacher, Small(teacherHeadEpochs: 2)).Fit(Keyed(RealImages.Train(ml, 64)));

        snapshot.AssertUnchanged();
    }

    [TestMethod]
    public void Sskd_CancelledStudent_ResumesToTheSameWeights_WithItsProjectionHeadFromTheCheckpoint()
    {
        var ml = SharedTeacher.Ml;
        var data = Keyed(RealImages.Train(ml, 64));
        string folder = Directory.CreateTempSubdirectory("distill-sskd-").FullName;
        try
        {
            SskdOptions Options(string? dir)
            {
                var o = Small(seed: 21);
                o.Epochs = 3;
                o.BatchSize = 16;
                o.CheckpointDirectory = dir;
                return o;
            }

            using var uninterrupted = ml.Distillation.Sskd(SharedTeacher.Teacher, Options(null)).Fit(data);
            using var cts = new CancellationTokenSource();
            var first = Options(folder);
            first.CancellationToken = cts.Token;
            first.MetricsCallback = m => { if (m.Phase == "SSKD" && m.Epoch == 1) cts.Cancel(); };
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Sskd(SharedTeacher.Teacher, first).Fit(data));

            var again = Options(folder);
            again.Resume = true;
            using var resumed = ml.Distillation.Sskd(SharedTeacher.Teacher, again).Fit(data);

            var e = uninterrupted.Model.Network.state_dict();
            foreach (var (name, tensor) in resumed.Model.Network.state_dict())
                Assert.IsTrue(TensorAssert.Same(e[name], tensor), $"'{name}' differs from the uninterrupted run");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Sskd_AcceptsAStudentOfAnotherFamily_AndRefusesBadOptionsNamingThem()
    {
        var ml = SharedTeacher.Ml;

        var crossFamily = ml.Distillation.Sskd(SharedTeacher.Teacher, Small(architecture: "vgg8"));
        var ratio = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.Distillation.Sskd(SharedTeacher.Teacher, new SskdOptions { SimilaritySelectionRatio = 1.5 }));
        var temperature = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.Distillation.Sskd(SharedTeacher.Teacher, new SskdOptions { SimilarityTemperature = 0 }));
        var epochs = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            ml.Distillation.Sskd(SharedTeacher.Teacher, new SskdOptions { TeacherHeadEpochs = 0 }));

        Assert.IsNotNull(crossFamily, "resnet8 (3 auxiliary branches) -> vgg8 (4): SSKD pairs no branches");
        Assert.AreEqual(nameof(SskdOptions.SimilaritySelectionRatio), ratio.ParamName);
        StringAssert.Contains(ratio.Message, "between 0 and 1");
        Assert.AreEqual(nameof(SskdOptions.SimilarityTemperature), temperature.ParamName);
        Assert.AreEqual(nameof(SskdOptions.TeacherHeadEpochs), epochs.ParamName);
        Assert.IsFalse(new SskdOptions().Nesterov, "the reference uses SGD without Nesterov");
    }
}
