// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Methods.Kd;
using Microsoft.ML.Distillation.Methods.Hsakd;

namespace Microsoft.ML.Distillation.Tests.Distillers;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class DistillationLossTests
{
    // B = 2 samples x 4 rotations = 8 rows, K = 3 classes, one auxiliary pair of 12 outputs.
    private static (NetworkOutput Student, NetworkOutput Teacher, Tensor Labels, Tensor Joint) TinyBatch()
    {
        var zs = (arange(24, dtype: ScalarType.Float32).reshape(8, 3).remainder(5) - 2) / 3;
        var zt = (arange(24, dtype: ScalarType.Float32).reshape(8, 3).remainder(7) - 3) / 2;
        var qs = (arange(96, dtype: ScalarType.Float32).reshape(8, 12).remainder(11) - 5) / 4;
        var qt = (arange(96, dtype: ScalarType.Float32).reshape(8, 12).remainder(13) - 6) / 3;
        var labels = tensor(new long[] { 1, 2 });
        var joint = tensor(new long[] { 4, 5, 6, 7, 8, 9, 10, 11 });
        var student = new NetworkOutput(zs, zeros(8, 2), new[] { zeros(8, 1, 1, 1) }, new[] { qs });
        var teacher = new NetworkOutput(zt, zeros(8, 2), new[] { zeros(8, 1, 1, 1) }, new[] { qt });
        return (student, teacher, labels, joint);
    }

    private static double[] Row(Tensor t, int r) => t[r].data<float>().ToArray().Select(v => (double)v).ToArray();

    private static double[] Softmax(double[] z, double temperature)
    {
        var e = z.Select(v => Math.Exp(v / temperature)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    /// <summary>T² · mean over rows of Σ_c p_t (ln p_t − ln p_s), written out with doubles.</summary>
    private static double KlByHand(Tensor student, Tensor teacher, double temperature)
    {
        int rows = (int)student.shape[0];
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var ps = Softmax(Row(student, r), temperature);
            var pt = Softmax(Row(teacher, r), temperature);
            total += pt.Select((p, c) => p * (Math.Log(p) - Math.Log(ps[c]))).Sum();
        }
        return temperature * temperature * total / rows;
    }

    private static double CeByHand(Tensor logits, int row, int target) => -Math.Log(Softmax(Row(logits, row), 1)[target]);

    [TestMethod]
    public void Hsakd_TermsMatchHandComputedValues()
    {
        var (student, teacher, labels, joint) = TinyBatch();

        var result = new HsakdLoss(temperature: 3, crossEntropyWeight: 1, auxiliaryWeight: 1, mainWeight: 1)
            .Compute(new LossBatch(student, teacher, labels, joint, 4));

        double ce = (CeByHand(student.Logits, 0, 1) + CeByHand(student.Logits, 4, 2)) / 2;
        double aux = KlByHand(student.AuxLogits[0], teacher.AuxLogits[0], 3);
        double main = KlByHand(student.Logits, teacher.Logits, 3);
        CollectionAssert.AreEqual(new[] { "ce", "aux_kl", "kl" }, result.Terms.Select(t => t.Key).ToArray());
        Assert.AreEqual(ce, result.Terms[0].Value.item<float>(), 1e-5, "CE over rows 0::4 (rows 0 and 4) only");
        Assert.AreEqual(aux, result.Terms[1].Value.item<float>(), 1e-5, "aux KL: batch-mean over all 8 rows, x T^2");
        Assert.AreEqual(main, result.Terms[2].Value.item<float>(), 1e-5, "main KL over all 8 rows, rotated ones included");
        Assert.AreEqual(ce + aux + main, result.Total.item<float>(), 1e-5);
        Assert.IsGreaterThan(0.01, aux, "the fixture's distributions really differ");
    }

    [TestMethod]
    public void Hsakd_WeightsScaleTheirTerms()
    {
        var (student, teacher, labels, joint) = TinyBatch();
        var batch = new LossBatch(student, teacher, labels, joint, 4);

        var unit = new HsakdLoss(3, 1, 1, 1).Compute(batch);
        var weighted = new HsakdLoss(3, 0.5, 2, 0).Compute(batch);

        Assert.AreEqual(0.5 * unit.Terms[0].Value.item<float>(), weighted.Terms[0].Value.item<float>(), 1e-5);
        Assert.AreEqual(2 * unit.Terms[1].Value.item<float>(), weighted.Terms[1].Value.item<float>(), 1e-5);
        Assert.AreEqual(0, weighted.Terms[2].Value.item<float>(), 1e-7);
    }

    [TestMethod]
    public void Hsakd_MismatchedBranchCounts_AreRefused()
    {
        var (student, teacher, labels, joint) = TinyBatch();
        var twoBranches = new NetworkOutput(teacher.Logits, teacher.Embedding, teacher.Features, new[] { teacher.AuxLogits[0], teacher.AuxLogits[0] });

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => new HsakdLoss(3, 1, 1, 1).Compute(new LossBatch(student, twoBranches, labels, joint, 4)));

        StringAssert.Contains(e.Message, "student has 1 and the teacher 2");
    }

    [TestMethod]
    public void Kd_IsGammaCePlusAlphaTSquaredKl_OnOriginalRows()
    {
        var zs = tensor(new float[] { 0.5f, -1f, 2f, 1f, 0f, -0.5f }).reshape(2, 3);
        var zt = tensor(new float[] { 2f, 0f, 1f, -1f, 1.5f, 0f }).reshape(2, 3);
        var labels = tensor(new long[] { 2, 0 });
        var batch = new LossBatch(new NetworkOutput(zs, zeros(2, 1), Array.Empty<Tensor>(), Array.Empty<Tensor>()),
            new NetworkOutput(zt, zeros(2, 1), Array.Empty<Tensor>(), Array.Empty<Tensor>()), labels, labels, 1);

        var result = new KdLoss(temperature: 4, crossEntropyWeight: 0.1, distillationWeight: 0.9).Compute(batch);

        double ce = (CeByHand(zs, 0, 2) + CeByHand(zs, 1, 0)) / 2;
        double kl = KlByHand(zs, zt, 4);
        Assert.AreEqual(0.1 * ce, result.Terms[0].Value.item<float>(), 1e-6);
        Assert.AreEqual(0.9 * kl, result.Terms[1].Value.item<float>(), 1e-6);
        Assert.AreEqual(0.1 * ce + 0.9 * kl, result.Total.item<float>(), 1e-6);
    }

    [TestMethod]
    public void Hsakd_GradientsReachStudentBackboneThroughAuxTerms_NeverTheTeacher()
    {
        torch.random.manual_seed(3);
        using var teacher = NetworkRegistry.Create("resnet8", 1, 3);
        using var student = NetworkRegistry.Create("resnet8", 1, 3);
        teacher.eval();
        teacher.DetachAuxiliaryInputs = true;
        foreach (var p in teacher.parameters())
            p.requires_grad = false;
        student.train();
        var x = Microsoft.ML.Distillation.SelfSupervision.Rotations.Expand(randn(2, 1, 8, 8));
        var labels = tensor(new long[] { 0, 2 });
        var joint = Microsoft.ML.Distillation.SelfSupervision.Rotations.JointLabels(labels);

        var studentOut = student.forward(x);
        NetworkOutput teacherOut;
        using (no_grad())
            teacherOut = teacher.forward(x);
        // Only the auxiliary mimicry term: any backbone gradient must have come through the aux branches.
        var loss = new HsakdLoss(3, crossEntropyWeight: 0, auxiliaryWeight: 1, mainWeight: 0).Compute(new LossBatch(studentOut, teacherOut, labels, joint, 4));
        loss.Total.backward();

        var backboneGrads = student.Backbone.parameters().Where(p => p.grad is not null).ToList();
        Assert.IsNotEmpty(backboneGrads, "aux KL gradients reach the student's backbone");
        Assert.IsTrue(backboneGrads.Any(p => p.grad!.abs().sum().item<float>() > 0));
        Assert.IsTrue(teacher.parameters().All(p => p.grad is null), "no gradient ever reaches the teacher");
    }
}
