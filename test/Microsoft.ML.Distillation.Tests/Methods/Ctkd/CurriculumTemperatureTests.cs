// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Ctkd;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class CurriculumTemperatureTests
{
    private static readonly float[,] Student = { { 1f, 2f, 0.5f }, { 0.2f, -1f, 3f } };
    private static readonly float[,] Teacher = { { 2f, 0.5f, 1f }, { 0f, 0.3f, 2.5f } };

    [TestMethod]
    public void Lambda_FollowsTheCosineCurriculum_FromZeroToMinusOne()
    {
        using var curriculum = new GlobalCurriculumTemperature(1, 20, curriculumEpochs: 10);

        Assert.AreEqual((Math.Cos(Math.PI / 10) + 1) / 2 - 1, curriculum.Lambda(0), 1e-12, "epoch 1 of 10 (the reference counts from 1)");
        Assert.AreEqual(-0.0245, curriculum.Lambda(0), 1e-4);
        Assert.AreEqual(-0.5, curriculum.Lambda(4), 1e-12, "epoch 5 of 10: half way");
        Assert.AreEqual(-1.0, curriculum.Lambda(9), 1e-12, "epoch 10: the end of the curriculum");
        Assert.AreEqual(-1.0, curriculum.Lambda(100), 1e-12, "held after it");
        Assert.AreEqual(10, CurriculumTemperature.ScaledCurriculumEpochs(240));
        Assert.AreEqual(1, CurriculumTemperature.ScaledCurriculumEpochs(8));
        Assert.AreEqual(2, CurriculumTemperature.ScaledCurriculumEpochs(48));
    }

    [TestMethod]
    public void Temperature_StartsAt1Plus20SigmoidOf1_AndStaysWithinItsBounds()
    {
        using var curriculum = new GlobalCurriculumTemperature(1, 20, 10);

        Assert.AreEqual(1 + 20 / (1 + Math.Exp(-1)), curriculum.Current(), 1e-5, "θ starts at 1: τ ≈ 15.62");
        foreach (float theta in new[] { -1000f, -5f, 0f, 5f, 1000f })
        {
            using (no_grad())
                curriculum.Theta.fill_(theta);
            using var t = curriculum.Temperature(-1.0);
            double tau = t.item<float>();
            Assert.IsTrue(tau >= 1 && tau <= 21, $"θ = {theta}: τ = {tau}");
        }
    }

    [TestMethod]
    public void TemperatureGradient_IsTheDistillationLossGradient_ReversedAndScaledByLambda()
    {
        using var scope = NewDisposeScope();
        double GradientOfTheta(double lambda, out double loss, out float[] studentGradient)
        {
            using var curriculum = new GlobalCurriculumTemperature(1, 20, 10);
            var student = tensor(Student).requires_grad_(true);
            var kd = LossFunctions.SoftenedKl(student, tensor(Teacher), curriculum.Temperature(lambda));
            kd.backward();
            loss = kd.item<float>();
            studentGradient = student.grad!.data<float>().ToArray();
            return curriculum.Theta.grad!.item<float>();
        }

        double plain = GradientOfTheta(1.0, out double lossPlain, out var studentPlain);     // λ = 1: no reversal, the loss's own gradient
        double reversed = GradientOfTheta(-0.5, out double lossReversed, out var studentReversed);

        Assert.AreNotEqual(0.0, plain);
        Assert.AreEqual(-0.5 * plain, reversed, Math.Abs(plain) * 1e-5, "reversed and scaled by λ");
        Assert.AreEqual(-Math.Sign(plain), Math.Sign(reversed), "the temperature ascends the loss the student descends");
        Assert.AreEqual(lossPlain, lossReversed, 0.0, "the reversal is the identity forward");
        CollectionAssert.AreEqual(studentPlain, studentReversed, "the student's gradient does not depend on λ");
    }

    [TestMethod]
    public void LearnedTemperature_GivesTheFixedTemperaturesLossAtTheSameValue()
    {
        using var scope = NewDisposeScope();
        using var curriculum = new GlobalCurriculumTemperature(1, 20, 10);
        var tau = curriculum.Temperature(-1.0);

        double learned = LossFunctions.SoftenedKl(tensor(Student), tensor(Teacher), tau).item<float>();
        double fixedT = LossFunctions.SoftenedKl(tensor(Student), tensor(Teacher), tau.item<float>()).item<float>();

        Assert.AreEqual(fixedT, learned, Math.Abs(fixedT) * 1e-5);
    }

    [TestMethod]
    public void KdWithCurriculumTemperature_TrainsThroughAPipeline_AndReportsTheTemperatureEachEpoch()
    {
        var ml = SharedTeacher.Ml;
        var epochs = new List<TrainingMetrics>();
        var options = new KdOptions
        {
            Architecture = "resnet8", Epochs = 3, BatchSize = 32, Seed = 9, MetricsCallback = epochs.Add,
            CurriculumTemperature = new CurriculumTemperatureOptions { CurriculumEpochs = 2 },
        };

        var student = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Distillation.Kd(SharedTeacher.Pipeline, options))
            .Fit(RealImages.Train(ml, 600));
        var metrics = ml.MulticlassClassification.Evaluate(student.Transform(RealImages.Test(ml, 300)));
        Console.WriteLine($"accuracy {metrics.MicroAccuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.25, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
        var temperatures = epochs.Select(m => m.Diagnostics["temperature"]).ToArray();
        Assert.IsTrue(temperatures.All(t => t > 1 && t < 21), string.Join(", ", temperatures));
        Assert.AreNotEqual(1 + 20 / (1 + Math.Exp(-1)), temperatures[^1], 1e-6, "the temperature was trained");
        StringAssert.Contains(epochs[0].ToString(), "temperature ");
    }

    [TestMethod]
    public void HsakdAndDkdWithCurriculumTemperature_Train_AndBadSettingsAreRefusedNamingTheOption()
    {
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        var hsakdEpochs = new List<TrainingMetrics>();
        var dkdEpochs = new List<TrainingMetrics>();
        var ctkd = new CurriculumTemperatureOptions();

        using var hsakd = ml.Distillation.Hsakd(SharedTeacher.Teacher, new HsakdOptions
        {
            Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 3, CurriculumTemperature = ctkd, MetricsCallback = hsakdEpochs.Add,
        }).Fit(data);
        using var dkd = ml.Distillation.Dkd(SharedTeacher.Teacher, new DkdOptions
        {
            Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 3, CurriculumTemperature = ctkd, MetricsCallback = dkdEpochs.Add,
        }).Fit(data);

        Assert.IsTrue(hsakdEpochs.Single().Diagnostics.ContainsKey("temperature"));
        Assert.IsTrue(dkdEpochs.Single().Diagnostics.ContainsKey("temperature"));
        Assert.IsTrue(hsakdEpochs.Concat(dkdEpochs).All(m => m.LossTerms.Values.All(double.IsFinite)));

        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.Kd(SharedTeacher.Teacher,
            new KdOptions { CurriculumTemperature = new CurriculumTemperatureOptions { TemperatureRange = -1 } }));
        Assert.AreEqual("CurriculumTemperatureOptions.TemperatureRange", e.ParamName);
    }
}
