// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.Crd;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Crd;

[TestClass]
public sealed class CrdLossTests
{
    // Expected values computed by hand (Python floats, math module only) from the definitions in CrdLoss's remarks.

    [TestMethod]
    public void Contrast_EqualsTheHandComputedNceLoss()
    {
        // P = [[0.5, 0.1, 0.3], [1.2, 0.05, 0.7]] (column 0 the positive, K = 2), N = 10, so r = 0.2:
        // −(Σ log(P0 / (P0 + r + 1e-7)) + Σ log(r / (Pk + r + 1e-7))) / 2 = 1.769800481625629.
        using var scope = NewDisposeScope();
        var value = ContrastiveTerm.Contrast(tensor(new float[,] { { 0.5f, 0.1f, 0.3f }, { 1.2f, 0.05f, 0.7f } }), 10);

        Assert.AreEqual(1.769800481625629, value.item<float>(), 1e-6);
    }

    [TestMethod]
    public void Scores_GatherTheIndexedBankRows_WithoutGradient()
    {
        // exp(bank[j] · anchor_i / 0.5) for j in the sample's indices.
        using var scope = NewDisposeScope();
        var bank = tensor(new float[,] { { 0.6f, 0.8f }, { 1, 0 }, { 0, -1 }, { -0.28f, 0.96f } }).requires_grad_(true);
        var anchor = tensor(new float[,] { { 0.8f, 0.6f }, { -0.6f, 0.8f } }).requires_grad_(true);
        var indices = tensor(new long[,] { { 0, 2, 3 }, { 1, 0, 2 } });

        var scores = ContrastiveTerm.Scores(bank, indices, anchor, 0.5);

        double[] expected = [6.8209584692907494, 0.30119421191220214, 2.021823849823544, 0.30119421191220214, 1.7506725002961017, 0.20189651799465538];
        var actual = scores.data<float>().ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], 1e-5 * expected[i], $"score {i}");
        scores.sum().backward();
        Assert.IsNull(bank.grad, "the bank is memory, not a parameter");
        Assert.IsNotNull(anchor.grad);
    }

    [TestMethod]
    public void FullBankAndGatheredScores_AgreeToFloatRounding_InValueAndGradient()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var bank = nn.functional.normalize(randn(50, 16), p: 2, dim: 1);
        var indices = randint(0, 50, new long[] { 6, 33 });
        var a = nn.functional.normalize(randn(6, 16), p: 2, dim: 1).requires_grad_(true);
        var b = a.detach().clone().requires_grad_(true);

        var full = ContrastiveTerm.FullBankScores(bank, indices, a, 0.07);
        var gathered = ContrastiveTerm.GatheredScores(bank, indices, b, 0.07);
        (full.log().sum()).backward();
        (gathered.log().sum()).backward();

        Assert.IsTrue(full.allclose(gathered, rtol: 1e-5, atol: 0), "scores");
        Assert.IsTrue(a.grad!.allclose(b.grad!, rtol: 1e-5, atol: 1e-6), "gradients");
        Assert.IsTrue(ContrastiveTerm.Scores(bank, indices, a.detach(), 0.07).allclose(full.detach(), rtol: 1e-6, atol: 0), "50 rows <= 4 x 33: the full-bank path");
    }

    [TestMethod]
    public void MemoryUpdate_MovesOnlyTheBatchsRows_HalfwayAndBackToUnitLength()
    {
        // Rows 2 and 0 take [1, 0] and [0, 1] with momentum 0.5: row 0 [0.6, 0.8] -> [0.3, 0.9] / |.| = [0.3162..., 0.9486...],
        // row 2 [0, -1] -> [0.5, -0.5] / |.| = [0.7071..., -0.7071...]; row 1 is not in the batch and stays.
        using var scope = NewDisposeScope();
        var bank = tensor(new float[,] { { 0.6f, 0.8f }, { 1, 0 }, { 0, -1 } });

        ContrastMemory.Update(bank, tensor(new long[] { 2, 0 }), tensor(new float[,] { { 1, 0 }, { 0, 1 } }), 0.5);

        float[] expected = [0.31622776601683794f, 0.9486832980505139f, 1, 0, 0.7071067811865475f, -0.7071067811865475f];
        CollectionAssert.AreEqual(expected, bank.data<float>().ToArray(), new ToleranceComparer(1e-6f));
    }

    [TestMethod]
    public void Negatives_AreOtherClassesRows_NeverThePositive_AndTheSameSeedDrawsTheSame()
    {
        using var scope = NewDisposeScope();
        long[] labels = [0, 1, 0, 2, 1, 0, 2, 2, 1, 0];
        using var sampler = new NegativeSampler(tensor(labels), 3);
        var rows = tensor(new long[] { 5, 3, 8 });
        var batchLabels = tensor(new long[] { 0, 2, 1 });

        Tensor Draw(ulong seed)
        {
            using var generator = new Generator(seed);
            return sampler.Sample(rows, batchLabels, 400, generator, CPU);
        }

        var indices = Draw(7);
        CollectionAssert.AreEqual(new long[] { 3, 401 }, indices.shape);
        CollectionAssert.AreEqual(new long[] { 5, 3, 8 }, indices.select(1, 0).data<long>().ToArray(), "column 0: the sample's own row");
        var drawn = indices.narrow(1, 1, 400).data<long>().ToArray();
        for (int i = 0; i < 3; i++)
        {
            long own = batchLabels[i].item<long>();
            var mine = drawn.Skip(i * 400).Take(400).ToArray();
            Assert.IsTrue(mine.All(r => labels[r] != own), $"sample {i}: a negative of its own class");
            var expectedRows = Enumerable.Range(0, 10).Where(r => labels[r] != own).Select(r => (long)r).ToArray();
            CollectionAssert.AreEquivalent(expectedRows, mine.Distinct().ToArray(), $"sample {i}: 400 draws reach every row of the other classes");
        }
        Assert.AreEqual(6, sampler.FewestNegatives);
        Assert.AreEqual(7, sampler.MostNegatives);
        Assert.IsTrue(TensorAssert.Same(indices, Draw(7)), "the same seed draws the same negatives");
        Assert.IsFalse(TensorAssert.Same(indices, Draw(8)));
    }

    private sealed class ToleranceComparer(float tolerance) : System.Collections.IComparer
    {
        public int Compare(object? x, object? y) => Math.Abs((float)x! - (float)y!) <= tolerance ? 0 : 1;
    }
}
