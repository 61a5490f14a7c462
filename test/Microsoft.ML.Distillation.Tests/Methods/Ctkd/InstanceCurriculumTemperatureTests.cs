// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Ctkd;
using Microsoft.ML.Distillation.Methods.Dkd;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Ctkd;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class InstanceCurriculumTemperatureTests
{
    private static readonly float[,] Student = { { 1f, 2f, 0.5f }, { 0.2f, -1f, 3f } };
    private static readonly float[,] Teacher = { { 2f, 0.5f, 1f }, { 0f, 0.3f, 2.5f } };

    [TestMethod]
    public void SoftenedKl_WithOneTemperaturePerRow_WeighsEachRowsKlByItsOwnSquare()
    {
        // Row 0 at T = 2, row 1 at T = 3: (4 · KL_2(row 0) + 9 · KL_3(row 1)) / 2, computed by hand (Python floats, math module only).
        using var scope = NewDisposeScope();
        var perRow = tensor(new float[,] { { 2f }, { 3f } });

        double kl = LossFunctions.SoftenedKl(tensor(Student), tensor(Teacher), perRow).item<float>();
        double same = LossFunctions.SoftenedKl(tensor(Student), tensor(Teacher), tensor(new float[,] { { 2f }, { 2f } })).item<float>();

        Assert.AreEqual(0.4140260233604194, kl, 1e-6);
        Assert.AreEqual(LossFunctions.SoftenedKl(tensor(Student), tensor(Teacher), 2.0).item<float>(), same, 1e-6, "equal rows: the fixed-T loss");
    }

    [TestMethod]
    public void DkdTerms_WithEqualPerRowTemperatures_AreTheFixedTemperatureTerms()
    {
        using var scope = NewDisposeScope();
        var labels = tensor(new long[] { 0, 2 });

        var (tckd, nckd) = DkdLoss.Terms(tensor(Student), tensor(Teacher), labels, tensor(new float[,] { { 2f }, { 2f } }));

        Assert.AreEqual(0.21100885649387677, tckd.item<float>(), 1e-6, "DkdLossTests' hand-computed TCKD at T = 2");
        Assert.AreEqual(0.3854227476520405, nckd.item<float>(), 1e-6, "DkdLossTests' hand-computed NCKD at T = 2");
    }

    [TestMethod]
    public void Temperature_IsOnePerRow_StartsNearTheGlobalStart_AndStaysWithinItsBounds()
    {
        using var scope = NewDisposeScope();
        using var module = new InstanceCurriculumTemperature(1, 20, 10, classCount: 3);

        var tau = module.Temperature(-1.0, tensor(Student), tensor(Teacher));
        var extreme = module.Temperature(-1.0, tensor(Student) * 1e6f, tensor(Teacher) * -1e6f);

        CollectionAssert.AreEqual(new long[] { 2, 1 }, tau.shape);
        foreach (float t in tau.data<float>().ToArray().Concat(extreme.data<float>().ToArray()))
            Assert.IsTrue(t >= 1 && t <= 21, $"τ = {t}");
        Assert.AreEqual(1 + 20 / (1 + Math.Exp(-1)), tau.mean().item<float>(), 4.0, "output bias 1: near the global variant's 15.6 at the start");
        var diagnostics = module.Diagnostics();
        Assert.HasCount(3, diagnostics);
        Assert.IsTrue(diagnostics["temperature_min"] <= diagnostics["temperature"] && diagnostics["temperature"] <= diagnostics["temperature_max"]);
        Assert.IsEmpty(module.Diagnostics(), "counting starts afresh after a report");
        Assert.ThrowsExactly<InvalidOperationException>(() => module.Temperature(-1.0, zeros(2, 4), zeros(2, 4)));
    }

    [TestMethod]
    public void Gradient_ReachesTheTemperatureNetworkReversedAndScaledByLambda_AndNeverTheLogitsThroughItsInput()
    {
        using var scope = NewDisposeScope();
        (float[] Network, float[] Student, double Loss) Gradients(double lambda)
        {
            using var module = new InstanceCurriculumTemperature(1, 20, 10, classCount: 3);
            using (no_grad())
            {
                // The same weights for both runs.
                using var generator = new TorchSharp.torch.Generator(17);
                foreach (var p in module.parameters())
                    p.copy_(rand(p.shape, generator: generator) - 0.5);
            }

            var student = tensor(Student).requires_grad_(true);
            var loss = LossFunctions.SoftenedKl(student, tensor(Teacher), module.Temperature(lambda, student, tensor(Teacher)));
            loss.backward();
            var network = module.parameters().SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
            return (network, student.grad!.data<float>().ToArray(), loss.item<float>());
        }

        var plain = Gradients(1.0);        // λ = 1: no reversal
        var reversed = Gradients(-0.5);

        Assert.IsTrue(plain.Network.Any(g => g != 0));
        for (int i = 0; i < plain.Network.Length; i++)
            Assert.AreEqual(-0.5 * plain.Network[i], reversed.Network[i], Math.Abs(plain.Network[i]) * 1e-4 + 1e-9, $"parameter gradient {i}");
        Assert.AreEqual(plain.Loss, reversed.Loss, 0.0, "the reversal is the identity forward");
        CollectionAssert.AreEqual(plain.Student, reversed.Student, "the student's gradient does not depend on λ (its logits enter the network detached)");
    }

    [TestMethod]
    public void KdWithInstanceWiseTemperature_TrainsDeterministically_AndReportsTheSpread_WhileHsakdRefusesIt()
    {
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 96));
        KdOptions Options(List<TrainingMetrics> epochs) => new()
        {
            Architecture = "resnet8", Epochs = 2, BatchSize = 32, Seed = 12, MetricsCallback = epochs.Add,
            CurriculumTemperature = new CurriculumTemperatureOptions { InstanceWise = true },
        };
        var first = new List<TrainingMetrics>();
        var second = new List<TrainingMetrics>();

        using var a = ml.Distillation.Kd(SharedTeacher.Teacher, Options(first)).Fit(data);
        using var b = ml.Distillation.Kd(SharedTeacher.Teacher, Options(second)).Fit(data);
        using var dkd = ml.Distillation.Dkd(SharedTeacher.Teacher, new DkdOptions
        {
            Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 12, CurriculumTemperature = new CurriculumTemperatureOptions { InstanceWise = true },
        }).Fit(data);

        foreach (var m in first)
        {
            var d = m.Diagnostics;
            Assert.IsTrue(d["temperature_min"] > 1 && d["temperature_max"] < 21 && d["temperature_min"] <= d["temperature"], string.Join(", ", d));
        }
        static string Numbers(List<TrainingMetrics> epochs) => string.Join("; ", epochs.Select(m =>
            string.Join(", ", m.LossTerms.Concat(m.Diagnostics).Select(kv => $"{kv.Key} {kv.Value:R}"))));
        Assert.AreEqual(Numbers(first), Numbers(second), "same seed, same losses and temperatures (the temperature network's initialisation is seeded)");
        var expected = a.Model.Network.state_dict();
        foreach (var (name, tensor) in b.Model.Network.state_dict())
            Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs between two runs with the same seed");
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Hsakd(SharedTeacher.Teacher,
            new HsakdOptions { Architecture = "resnet8", CurriculumTemperature = new CurriculumTemperatureOptions { InstanceWise = true } }));
        Assert.AreEqual("CurriculumTemperature.InstanceWise", e.ParamName);
        StringAssert.Contains(e.Message, "Kd or Dkd");
    }
}
