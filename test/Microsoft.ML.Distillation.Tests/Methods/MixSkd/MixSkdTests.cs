// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.MixSkd;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.MixSkd;

[TestClass]
[DoNotParallelize]
public sealed class MixSkdTests
{
    [TestMethod]
    public void MixupDraw_IsAFunctionOfTheSeed_WithBetaMoments_AndAPermutation()
    {
        var a = MixupDraw.For(12345, 8, 0.4);
        var b = MixupDraw.For(12345, 8, 0.4);
        Assert.AreEqual(a.Lambda, b.Lambda);
        CollectionAssert.AreEqual(a.Permutation, b.Permutation);
        CollectionAssert.AreEquivalent(Enumerable.Range(0, 8).ToArray(), a.Permutation);

        // Beta(α, α): mean 1/2, variance 1 / (4 (2α + 1)) = 0.13889 for α = 0.4; 20,000 draws put the sample mean within ±0.011
        // (4 standard errors) and the variance within ±0.006.
        var lambdas = Enumerable.Range(0, 20000).Select(s => MixupDraw.For(s * 7919L + 1, 2, 0.4).Lambda).ToArray();
        double mean = lambdas.Average(), variance = lambdas.Sum(l => (l - mean) * (l - mean)) / (lambdas.Length - 1);
        Assert.IsTrue(lambdas.All(l => l is >= 0 and <= 1));
        Assert.AreEqual(0.5, mean, 0.011);
        Assert.AreEqual(1 / (4 * 1.8), variance, 0.006);
        var random = new Random(3);
        Assert.AreEqual(2.5, Enumerable.Range(0, 20000).Select(_ => MixupDraw.Gamma(random, 2.5)).Average(), 0.05, "Gamma(k) has mean k");
        Assert.AreEqual(0.4, Enumerable.Range(0, 20000).Select(_ => MixupDraw.Gamma(random, 0.4)).Average(), 0.02);
    }

    [TestMethod]
    public void ExtendInputs_AppendsTheMixupImagesOfTheStepsPairing()
    {
        using var scope = NewDisposeScope();
        var loss = new MixSkdLoss(0.4, 3);
        var x = arange(12, dtype: ScalarType.Float32).view(3, 1, 2, 2);
        var step = new TrainingStep(0, 1, 0, [], Seed: 99);
        var draw = MixupDraw.For(99, 3, 0.4);

        var rows = loss.ExtendInputs(x, tensor(new long[] { 0, 1, 2 }), step);

        CollectionAssert.AreEqual(new long[] { 6, 1, 2, 2 }, rows.shape);
        var values = rows.data<float>().ToArray();
        for (int i = 0; i < 3; i++)
        {
            for (int p = 0; p < 4; p++)
            {
                Assert.AreEqual(4 * i + p, values[4 * i + p], "the batch's own rows first, unchanged");
                double mixed = draw.Lambda * (4 * i + p) + (1 - draw.Lambda) * (4 * draw.Permutation[i] + p);
                Assert.AreEqual(mixed, values[12 + 4 * i + p], 1e-5);
            }
        }
    }

    [TestMethod]
    public void Loss_TermsEqualTheHandComputedValues()
    {
        // B = 2, K = 2 classes, one auxiliary branch: classifiers [aux, backbone] over the 2B rows [clean; mixed], final maps [4, 2, 1, 1].
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        var loss = new MixSkdLoss(0.4, 3);
        loss.Prepare([2, 2], classCount: 2);
        long[] labels = [0, 1];
        var step = new TrainingStep(0, 1, 0, [], Seed: 7);
        loss.ExtendInputs(zeros(2, 1, 1, 1), tensor(labels), step);
        var draw = MixupDraw.For(7, 2, 0.4);
        double l = draw.Lambda;
        int[] pi = draw.Permutation;

        double[,] zAux = { { 1, -1 }, { 0.5, 0.2 }, { -0.3, 0.8 }, { 2, 1 } }, zMain = { { 0.1, 0.4 }, { -1, 1 }, { 0.7, 0.7 }, { 0, 1.5 } };
        double[,] fAux = { { 0.3, -0.2 }, { 1, 0.5 }, { -0.7, 0.1 }, { 0.2, 0.9 } }, fMain = { { 1, 2 }, { 0, -1 }, { 0.5, 0.5 }, { -0.4, 0.3 } };
        var output = new NetworkOutput(Tensor(zMain), empty(4, 0), [], [Tensor(zAux)], [Map(fAux)], pooledMap: Map(fMain));
        var result = loss.Compute(new LossBatch(output, null, tensor(labels), tensor(labels), 1, step));

        double[] Row(double[,] t, int r) => [t[r, 0], t[r, 1]];
        double[] Mix(double[] a, double[] b) => [l * a[0] + (1 - l) * b[0], l * a[1] + (1 - l) * b[1]];
        double[] Interpolated(double[,] t, int i) => Mix(Row(t, i), Row(t, pi[i]));
        double[] Mixed(double[,] t, int i) => Row(t, 2 + i);
        // The self-teacher on the interpolated and on the mixed maps (its weights are random: read through it).
        double[][] Head(Func<double[,], int, double[]> rows)
        {
            var maps = new[] { fAux, fMain }.Select(f => cat(Enumerable.Range(0, 2).Select(i => tensor(rows(f, i).Select(v => (float)v).ToArray()).view(1, 2, 1, 1)).ToArray(), 0)).ToArray();
            var logits = loss.Head.call(maps).detach();
            var v = logits.data<float>().ToArray();
            return [[v[0], v[1]], [v[2], v[3]]];
        }
        var tBar = Head(Interpolated);
        var tMix = Head(Mixed);

        double Ce(double[] z, long y) => -Math.Log(Softmax(z, 1)[y]);
        double MixCe(double[] z, int i) => l * Ce(z, labels[i]) + (1 - l) * Ce(z, labels[pi[i]]);
        double Kl(double[] student, double[] target) { var ps = Softmax(student, 3); var pt = Softmax(target, 3); return 9 * pt.Select((p, c) => p * (Math.Log(p) - Math.Log(ps[c]))).Sum(); }
        double Mean(Func<int, double> f) => (f(0) + f(1)) / 2;

        double ce = Mean(i => Ce(Row(zAux, i), labels[i]) + Ce(Row(zMain, i), labels[i]));
        double mixCe = Mean(i => MixCe(Mixed(zAux, i), i) + MixCe(Mixed(zMain, i), i) + MixCe(tBar[i], i) + MixCe(tMix[i], i));
        double kl = Mean(i => Kl(Interpolated(zAux, i), Mixed(zAux, i)) + Kl(Mixed(zAux, i), Interpolated(zAux, i))
            + Kl(Interpolated(zMain, i), tMix[i]) + Kl(Mixed(zMain, i), tBar[i]));
        double feature = new[] { fAux, fMain }.Sum(f => Enumerable.Range(0, 2).Sum(i => Enumerable.Range(0, 2).Sum(c => Math.Pow(Interpolated(f, i)[c] - Mixed(f, i)[c], 2))) / 4);

        var terms = result.Terms.ToDictionary(p => p.Key, p => (double)p.Value.item<float>());
        CollectionAssert.AreEqual(new[] { "ce", "mix_ce", "kl", "feature" }, terms.Keys.ToArray());
        Assert.AreEqual(ce, terms["ce"], 1e-5 * ce);
        Assert.AreEqual(mixCe, terms["mix_ce"], 1e-5 * mixCe);
        Assert.AreEqual(kl, terms["kl"], 1e-5 * kl + 1e-7);
        Assert.AreEqual(feature, terms["feature"], 1e-5 * feature);
        loss.Dispose();
    }

    [TestMethod]
    [TestCategory(TestCategories.CpuSensitive)]
    public void MixSkd_OnRealImages_TrainsWithoutATeacher_AndShipsTheBackboneOnly()
    {
        var ml = new MLContext(seed: 5);
        var epochs = new List<TrainingMetrics>();
        var options = new MixSkdOptions { Architecture = "resnet8", Epochs = 3, BatchSize = 32, Seed = 9, MetricsCallback = epochs.Add };

        var (accuracy, model) = RealImages.FitAndScore(ml, ml.Distillation.MixSkd(options), trainRows: 400, testRows: 300);
        Console.WriteLine($"accuracy {accuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.2, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        Assert.IsTrue(epochs.All(m => m.Phase == "MixSKD"));
        CollectionAssert.AreEqual(new[] { "ce", "mix_ce", "kl", "feature" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs.All(m => m.LossTerms.Values.All(v => v > 0 && double.IsFinite(v))));
        Assert.AreEqual(1, model.LastTransformer.Model.Network.RotationCount, "the branches classify the K classes");

        string path = Path.Combine(Path.GetTempPath(), $"mixskd-{Guid.NewGuid():N}.zip");
        try
        {
            model.LastTransformer.Save(path);
            using var loaded = ml.Distillation.LoadModel(path);
            var test = model.First().Transform(RealImages.Test(ml, 50));
            var before = model.LastTransformer.Transform(test).GetColumn<float[]>("Score").ToArray();
            var after = loaded.Transform(test).GetColumn<float[]>("Score").ToArray();
            for (int i = 0; i < before.Length; i++)
                CollectionAssert.AreEqual(before[i], after[i], $"row {i}: the saved model scores as the trained one");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void AbsurdOptions_AreRefusedNamingTheOption()
    {
        var ml = new MLContext(seed: 1);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.MixSkd(new MixSkdOptions { MixupAlpha = 0 }));
        Assert.AreEqual("MixupAlpha", e.ParamName);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.MixSkd(new MixSkdOptions { Temperature = double.NaN }));
        Assert.AreEqual("Temperature", e.ParamName);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.MixSkd(new MixSkdOptions { LearningRateWarmupEpochs = -1 }));
        Assert.AreEqual("LearningRateWarmupEpochs", e.ParamName);
    }

    private static Tensor Tensor(double[,] values)
        => tensor(values.Cast<double>().Select(v => (float)v).ToArray()).view(values.GetLength(0), values.GetLength(1));

    private static Tensor Map(double[,] values) => Tensor(values).view(values.GetLength(0), values.GetLength(1), 1, 1);

    private static double[] Softmax(double[] z, double t)
    {
        var e = z.Select(v => Math.Exp(v / t)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }
}
