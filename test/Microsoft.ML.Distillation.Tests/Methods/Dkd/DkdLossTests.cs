// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Dkd;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Dkd;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class DkdLossTests
{
    // Two samples, three classes, T = 2. Expected values computed by hand (Python floats, math module only) from the definitions:
    // b = [p_y, 1 - p_y] and p̂ = the probabilities of the other classes renormalised, with p = softmax(z / 2);
    // TCKD = 4 · mean KL(b_t ‖ b_s) = 0.21100885649387677, NCKD = 4 · mean KL(p̂_t ‖ p̂_s) = 0.3854227476520405,
    // CE of the raw student logits = 0.7702599808789607.
    private static readonly float[,] Student = { { 1f, 2f, 0.5f }, { 0.2f, -1f, 3f } };
    private static readonly float[,] Teacher = { { 2f, 0.5f, 1f }, { 0f, 0.3f, 2.5f } };
    private static readonly long[] Labels = [0, 2];

    [TestMethod]
    public void Terms_EqualTheHandComputedValues()
    {
        using var scope = NewDisposeScope();
        var (tckd, nckd) = DkdLoss.Terms(tensor(Student), tensor(Teacher), tensor(Labels), 2.0);

        Assert.AreEqual(0.21100885649387677, tckd.item<float>(), 1e-6);
        Assert.AreEqual(0.3854227476520405, nckd.item<float>(), 1e-6);
    }

    [TestMethod]
    public void Terms_RebuildClassicalKd_PerSample()
    {
        // The paper's identity, per sample: KL(p_t ‖ p_s) = TCKD + (1 − p_t,y) · NCKD.
        using var scope = NewDisposeScope();
        for (int i = 0; i < 2; i++)
        {
            var s = tensor(Student).narrow(0, i, 1);
            var t = tensor(Teacher).narrow(0, i, 1);
            var y = tensor(Labels).narrow(0, i, 1);
            var (tckd, nckd) = DkdLoss.Terms(s, t, y, 2.0);
            double ptY = nn.functional.softmax(t / 2.0, 1)[0, Labels[i]].item<float>();

            double kd = LossFunctions.SoftenedKl(s, t, 2.0).item<float>();

            Assert.AreEqual(kd, tckd.item<float>() + (1 - ptY) * nckd.item<float>(), 1e-6, $"sample {i}");
        }
    }

    [TestMethod]
    public void ConfidentTeacher_GivesFiniteTerms()
    {
        using var scope = NewDisposeScope();
        var (tckd, nckd) = DkdLoss.Terms(tensor(new float[,] { { -200f, 0f, 200f } }), tensor(new float[,] { { 300f, 0f, -300f } }), tensor(new long[] { 0 }), 1.0);

        Assert.IsTrue(double.IsFinite(tckd.item<float>()) && double.IsFinite(nckd.item<float>()), $"{tckd.item<float>()}, {nckd.item<float>()}");
    }

    [TestMethod]
    public void WarmupFactor_RisesLinearlyOverTheWarmupEpochs_ThenStaysAtOne()
    {
        var loss = new DkdLoss(4, 1, 1, 8, warmupEpochs: 20);

        Assert.AreEqual(1 / 20.0, loss.WarmupFactor(0), 1e-12, "epoch 1 of 20: the reference counts epochs from 1");
        Assert.AreEqual(10 / 20.0, loss.WarmupFactor(9), 1e-12, "mid-warm-up");
        Assert.AreEqual(1.0, loss.WarmupFactor(19), 1e-12);
        Assert.AreEqual(1.0, loss.WarmupFactor(200), 1e-12, "after the warm-up");
        Assert.AreEqual(20, DkdLoss.ScaledWarmupEpochs(240));
        Assert.AreEqual(1, DkdLoss.ScaledWarmupEpochs(8), "short runs: no warm-up");
        Assert.AreEqual(2, DkdLoss.ScaledWarmupEpochs(24));
    }

    [TestMethod]
    public void Compute_WeightsTheTermsAndAppliesTheWarmupOfTheStepsEpoch()
    {
        using var scope = NewDisposeScope();
        var loss = new DkdLoss(2, crossEntropyWeight: 0.5, targetWeight: 1, nonTargetWeight: 8, warmupEpochs: 4);
        var student = new NetworkOutput(tensor(Student), zeros(2, 1), [], []);
        var teacher = new NetworkOutput(tensor(Teacher), zeros(2, 1), [], []);
        var labels = tensor(Labels);

        foreach (var (epoch, w) in new[] { (0, 0.25), (1, 0.5), (5, 1.0) })
        {
            var step = new TrainingStep(epoch, 10, 0, [0, 1], 0);
            var result = loss.Compute(new LossBatch(student, teacher, labels, labels, 1, step));
            var terms = result.Terms.ToDictionary(t => t.Key, t => t.Value.item<float>());

            CollectionAssert.AreEqual(new[] { "ce", "tckd", "nckd" }, terms.Keys.ToArray());
            Assert.AreEqual(0.5 * 0.7702599808789607, terms["ce"], 1e-6, $"epoch {epoch}");
            Assert.AreEqual(w * 0.21100885649387677, terms["tckd"], 1e-6, $"epoch {epoch}");
            Assert.AreEqual(w * 8 * 0.3854227476520405, terms["nckd"], 1e-5, $"epoch {epoch}");
            Assert.AreEqual(terms.Values.Sum(), result.Total.item<float>(), 1e-5);
        }
    }
}
