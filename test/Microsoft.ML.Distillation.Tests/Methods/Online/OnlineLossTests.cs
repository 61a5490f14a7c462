// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Online;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Online;

/// <summary>The online losses against values computed here in double precision from their formulas, and their gradient paths.</summary>
[TestClass]
public sealed class OnlineLossTests
{
    private static readonly double[,] s_similarity = { { 10, 2, -1 }, { 3, 10, 0.5 }, { 1, -2, 10 } };

    [TestMethod]
    public void MclHardTerm_AveragesTheAnchorsWithAPositive_AndLeavesOutTheAnchorWithout()
    {
        // Labels [0, 0, 1]: anchor 0's positive is 1, anchor 1's is 0, anchor 2 (the only image of class 1) has none and is left out.
        // The denominators leave out the anchor itself.
        double Term(int i, int j, int k) => -(s_similarity[i, j] - Math.Log(Math.Exp(s_similarity[i, j]) + Math.Exp(s_similarity[i, k])));
        double expected = (Term(0, 1, 2) + Term(1, 0, 2)) / 2;

        using var labels = tensor(new long[] { 0, 0, 1 });
        using var positives = MclLoss.PositiveMask(labels);
        using var similarity = tensor(Flatten(s_similarity), dtype: ScalarType.Float32).view(3, 3);
        using var term = MclLoss.SupervisedContrast(similarity, positives);

        CollectionAssert.AreEqual(new float[] { 0, 1, 0, 1, 0, 0, 0, 0, 0 }, positives.data<float>().ToArray(), "same class, diagonal removed");
        Assert.AreEqual(expected, term.item<float>(), 1e-5 * Math.Abs(expected));
    }

    [TestMethod]
    public void MclHardTerm_IsZero_WhenNoAnchorHasAPositive_AndFinite_AtSmallTemperatures()
    {
        using var distinct = tensor(new long[] { 0, 1, 2 });
        using var positives = MclLoss.PositiveMask(distinct);
        using var similarity = tensor(Flatten(s_similarity), dtype: ScalarType.Float32).view(3, 3);
        using var none = MclLoss.SupervisedContrast(similarity, positives);
        Assert.AreEqual(0f, none.item<float>());

        // τ = 0.01 turns similarities into logits of 100: exp would overflow float32, the masked log-sum-exp does not.
        using var same = tensor(new long[] { 0, 0, 1 });
        using var mask = MclLoss.PositiveMask(same);
        using var sharp = similarity * 10;
        using var term = MclLoss.SupervisedContrast(sharp, mask);
        Assert.IsTrue(float.IsFinite(term.item<float>()), $"got {term.item<float>()}");
    }

    [TestMethod]
    public void OnlineHsakd_TermsEqualTheHandComputedValues()
    {
        // Two peers, one image (B = 1) at four rotations, K = 2 classes, one auxiliary branch over 4K = 8 joint classes, label 1.
        double[,] z1 = { { 1, -1 }, { 0.5, 0.2 }, { -0.3, 0.8 }, { 2, 1 } }, z2 = { { 0.1, 0.4 }, { -1, 1 }, { 0.7, 0.7 }, { 0, 1.5 } };
        double[,] q1 = Table(4, 8, (r, c) => 0.3 * r - 0.2 * c + 0.05 * r * c), q2 = Table(4, 8, (r, c) => Math.Sin(r + 2 * c));
        long[] joint = [4, 5, 6, 7]; // 4y + j
        const double t = 3;

        double ce = CrossEntropy(z1, 0, 1) + CrossEntropy(z2, 0, 1);
        double auxCe = Enumerable.Range(0, 4).Sum(r => CrossEntropy(q1, r, joint[r]) + CrossEntropy(q2, r, joint[r])) / 4;
        double kl = SoftKl(z1, z2, t) + SoftKl(z2, z1, t);
        double auxKl = SoftKl(q1, q2, t) + SoftKl(q2, q1, t);

        using var scope = NewDisposeScope();
        var batch = PeerBatch([Output(z1, q1), Output(z2, q2)], labels: [1], joint, rotationCount: 4);
        var result = new OnlineHsakdLoss(t, 2).Compute(batch);
        var terms = result.Terms.ToDictionary(p => p.Key, p => (double)p.Value.item<float>());

        CollectionAssert.AreEqual(new[] { "ce", "aux_ce", "kl", "aux_kl" }, terms.Keys.ToArray());
        Assert.AreEqual(ce, terms["ce"], 1e-5 * ce);
        Assert.AreEqual(auxCe, terms["aux_ce"], 1e-5 * auxCe);
        Assert.AreEqual(kl, terms["kl"], 1e-5 * kl);
        Assert.AreEqual(auxKl, terms["aux_kl"], 1e-5 * auxKl);
        Assert.AreEqual(ce + auxCe + kl + auxKl, result.Total.item<float>(), 1e-5 * (ce + auxCe + kl + auxKl));
    }

    [TestMethod]
    public void OnlineHsakd_EachPeerLearnsFromTheOther_NeverThroughTheOthersDetachedSide()
    {
        // d/dz_a of [CE(z_a[0::4], y) + KL_T(z_a, z_b)] = (softmax(z_a[0]) − onehot) on row 0 / B + T (softmax(z_a/T) − softmax(z_b/T)) / R.
        // A gradient through the other peer's target side (its KL toward z_a) would add a term; the detached path adds none.
        double[,] z1 = { { 1, -1 }, { 0.5, 0.2 }, { -0.3, 0.8 }, { 2, 1 } }, z2 = { { 0.1, 0.4 }, { -1, 1 }, { 0.7, 0.7 }, { 0, 1.5 } };
        var q = Table(4, 8, (r, c) => 0.1 * (r - c));
        const double t = 3;

        using var scope = NewDisposeScope();
        var l1 = Leaf(z1);
        var l2 = Leaf(z2);
        var batch = PeerBatch([Output(l1, Leaf(q)), Output(l2, Leaf(q))], labels: [1], [4, 5, 6, 7], rotationCount: 4);
        new OnlineHsakdLoss(t, 2).Compute(batch).Total.backward();

        double[,] Expected(double[,] own, double[,] other)
        {
            var g = new double[4, 2];
            for (int r = 0; r < 4; r++)
            {
                var ps = Softmax(own, r, t);
                var pt = Softmax(other, r, t);
                for (int c = 0; c < 2; c++)
                    g[r, c] = t * (ps[c] - pt[c]) / 4;
            }
            var p = Softmax(own, 0, 1);
            for (int c = 0; c < 2; c++)
                g[0, c] += p[c] - (c == 1 ? 1 : 0);
            return g;
        }

        var g1 = l1.grad!.data<float>().ToArray();
        var g2 = l2.grad!.data<float>().ToArray();
        var e1 = Flatten(Expected(z1, z2));
        var e2 = Flatten(Expected(z2, z1));
        for (int i = 0; i < 8; i++)
        {
            Assert.AreEqual(e1[i], g1[i], 1e-6, $"peer 1, element {i}");
            Assert.AreEqual(e2[i], g2[i], 1e-6, $"peer 2, element {i}");
        }
        Assert.IsFalse(g1.SequenceEqual(g2), "the peers learn different things from each other");
    }

    [TestMethod]
    public void Mcl_SoftTermsPullOnlyTheAnchorSide_AndTheTotalAddsTheWeightedTerms()
    {
        using var scope = NewDisposeScope();
        var settings = new MclSettings(0.1, 3, 0.1, 1, 0.1, 1, EnsembleWeight: 0.5);
        var loss = new MclLoss(settings, 2);
        random.manual_seed(3);
        loss.Prepare([4, 6], width: 5);
        var h1 = randn(6, 4).requires_grad_(true);
        var h2 = randn(6, 6).requires_grad_(true);
        var z1 = randn(6, 3).requires_grad_(true);
        var z2 = randn(6, 3).requires_grad_(true);
        var labels = tensor(new long[] { 0, 0, 1, 1, 2, 0 });
        var batch = new LossBatch(new NetworkOutput([Peer(z1, h1), Peer(z2, h2)]), null, labels, labels, 1);

        var result = loss.Compute(batch);
        CollectionAssert.AreEqual(new[] { "ce", "vcl", "soft_vcl", "icl", "soft_icl", "kl" }, result.Terms.Select(p => p.Key).ToArray());
        double sum = result.Terms.Sum(p => p.Value.item<float>());
        Assert.AreEqual(sum, result.Total.item<float>(), 1e-5 * Math.Abs(sum));

        // The same terms by hand from the heads' embeddings (τ = 0.1): the ensemble KD toward the detached mean.
        var e1 = loss.Heads.Embed(0, h1).detach();
        var e2 = loss.Heads.Embed(1, h2).detach();
        var positives = MclLoss.PositiveMask(labels);
        double vcl = 0.1 * (MclLoss.SupervisedContrast(e1.matmul(e1.t()) / 0.1, positives).item<float>()
            + MclLoss.SupervisedContrast(e2.matmul(e2.t()) / 0.1, positives).item<float>());
        Assert.AreEqual(vcl, result.Terms[1].Value.item<float>(), 1e-5);
        var mean = (z1.detach() + z2.detach()) / 2;
        double kd = 0.5 * (LossFunctions.SoftenedKl(z1, mean, 3).item<float>() + LossFunctions.SoftenedKl(z2, mean, 3).item<float>());
        Assert.AreEqual(kd, result.Terms[5].Value.item<float>(), 1e-6);

        // Both peers' features and the heads get gradients; the loss is finite.
        result.Total.backward();
        Assert.IsTrue(h1.grad!.abs().sum().item<float>() > 0 && h2.grad!.abs().sum().item<float>() > 0);
        Assert.IsTrue(loss.Heads.parameters().All(p => p.grad is not null && p.grad.abs().sum().item<float>() > 0));
        loss.Dispose();
    }

    [TestMethod]
    public void FflRampUp_FollowsTheCodesSigmoidRamp()
    {
        Assert.AreEqual(Math.Exp(-5), FflLoss.RampUp(0, 80), 1e-15);
        Assert.AreEqual(Math.Exp(-1.25), FflLoss.RampUp(40, 80), 1e-15, "phase 0.5: exp(-5/4)");
        Assert.AreEqual(1.0, FflLoss.RampUp(80, 80));
        Assert.AreEqual(1.0, FflLoss.RampUp(200, 80));
        Assert.AreEqual(1.0, FflLoss.RampUp(0, 0), "no ramp-up");
    }

    [TestMethod]
    public void Ffl_TermsEqualTheHandComputedValues_AndThePeersLearnFromTheFusedSideOnlyAsATarget()
    {
        // Two peers, B = 3, K = 2, last maps [3, 4, 2, 2]; epoch 40 of a 80-epoch ramp: w = exp(-5/4).
        double[,] z1 = { { 1, -1 }, { 0.5, 0.2 }, { -0.3, 0.8 } }, z2 = { { 0.1, 0.4 }, { -1, 1 }, { 0.7, 0.7 } };
        long[] labels = [0, 1, 1];
        const double t = 3;
        double w = Math.Exp(-1.25);

        using var scope = NewDisposeScope();
        random.manual_seed(5);
        var loss = new FflLoss(2, t, rampUpEpochs: 80, fusionWeightDecay: 1e-5, mfefBlocks: false);
        loss.Prepare([4, 4], classCount: 2);
        var maps = new[] { randn(3, 4, 2, 2).requires_grad_(true), randn(3, 4, 2, 2).requires_grad_(true) };
        var l1 = Leaf(z1);
        var l2 = Leaf(z2);
        var peers = new[] { new NetworkOutput(l1, empty(3, 0), [], [], pooledMap: maps[0]), new NetworkOutput(l2, empty(3, 0), [], [], pooledMap: maps[1]) };
        var batch = new LossBatch(new NetworkOutput(peers), null, tensor(labels), tensor(labels), 1, new TrainingStep(40, 100, 0, [], 0));
        var result = loss.Compute(batch);

        // The fused logits of the same maps (train mode: batch statistics, so the same values as inside the loss).
        var zf = ToTable(loss.Fusion.call(maps).detach());
        var mean = new double[3, 2];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 2; c++)
                mean[r, c] = (z1[r, c] + z2[r, c]) / 2;
        double ce = Enumerable.Range(0, 3).Sum(r => CrossEntropy(z1, r, labels[r]) + CrossEntropy(z2, r, labels[r])) / 3;
        double fusedCe = Enumerable.Range(0, 3).Sum(r => CrossEntropy(zf, r, labels[r])) / 3;
        double kl = w * (SoftKl(z1, zf, t) + SoftKl(z2, zf, t));
        double fusedKl = w * SoftKl(zf, mean, t);
        var terms = result.Terms.ToDictionary(p => p.Key, p => (double)p.Value.item<float>());
        CollectionAssert.AreEqual(new[] { "ce", "fused_ce", "kl", "fused_kl" }, terms.Keys.ToArray());
        Assert.AreEqual(ce, terms["ce"], 1e-5 * ce);
        Assert.AreEqual(fusedCe, terms["fused_ce"], 1e-5 * fusedCe);
        Assert.AreEqual(kl, terms["kl"], 1e-5 * kl);
        Assert.AreEqual(fusedKl, terms["fused_kl"], 1e-5 * fusedKl);

        // d/dz_1: CE's (softmax − onehot)/B plus w·T·(softmax(z_1/T) − softmax(z_f/T))/B; nothing through the fused side or the ensemble.
        result.Total.backward();
        var g = l1.grad!.data<float>().ToArray();
        for (int r = 0; r < 3; r++)
        {
            var p = Softmax(z1, r, 1);
            var ps = Softmax(z1, r, t);
            var pf = Softmax(zf, r, t);
            for (int c = 0; c < 2; c++)
            {
                double expected = (p[c] - (c == labels[r] ? 1 : 0)) / 3 + w * t * (ps[c] - pf[c]) / 3;
                Assert.AreEqual(expected, g[r * 2 + c], 1e-6, $"row {r}, class {c}");
            }
        }
        Assert.IsTrue(maps.All(m => m.grad!.abs().sum().item<float>() > 0), "the fused classifier's CE reaches the peers' maps (not detached)");
        Assert.IsTrue(loss.Fusion.parameters().All(p => p.grad is not null));
        loss.Dispose();
    }

    [TestMethod]
    public void FusionModule_WithAndWithoutMfefBlocks_ClassifiesTheConcatenatedMaps()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(2);
        using var plain = new FeatureFusionModule([8, 8], 5, mfefBlocks: false);
        using var mfef = new FeatureFusionModule([8, 12], 5, mfefBlocks: true);
        var maps = new[] { randn(2, 8, 4, 4), randn(2, 8, 4, 4) };

        CollectionAssert.AreEqual(new long[] { 2, 5 }, plain.call(maps).shape);
        CollectionAssert.AreEqual(new long[] { 2, 5 }, mfef.call([randn(2, 8, 4, 4), randn(2, 12, 4, 4)]).shape);
        var names = plain.state_dict().Keys.ToArray();
        CollectionAssert.Contains(names, "fuse.depthwise.weight");
        CollectionAssert.AreEqual(new long[] { 16, 1, 3, 3 }, plain.state_dict()["fuse.depthwise.weight"].shape, "depthwise over the 2 x 8 channels");
        CollectionAssert.AreEqual(new long[] { 8, 16, 1, 1 }, plain.state_dict()["fuse.pointwise.weight"].shape, "1x1 from ΣC to ΣC/M");
        Assert.IsFalse(names.Any(n => n.StartsWith("mfef.", StringComparison.Ordinal)), "no MFEF blocks unless asked");
        Assert.IsTrue(mfef.state_dict().Keys.Any(n => n.StartsWith("mfef.1.attention.spatial", StringComparison.Ordinal)));
    }

    [TestMethod]
    public void DualAttention_SpatialLogits_AreThe7x7Convolution_AndTheirInputGradientIsExactEveryTime()
    {
        // The spatial attention's 2 -> 1 convolution through nn.Conv2d gave a NaN input gradient in about 1 backward pass in 4 on
        // AMD Zen 5 (oneDNN, libtorch 2.10), which made FFL-MFEF diverge now and then; the im2col product must not.
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        using var block = new DualAttentionBlock(16);
        var weight = block.state_dict()["spatial.weight"];
        var pooled = randn(32, 2, 7, 7);
        var upstream = randn(32, 1, 7, 7);

        // Reference in float64 (oneDNN has no float64 kernels): the convolution and its input gradient.
        var reference = pooled.to_type(ScalarType.Float64).requires_grad_(true);
        var expected = nn.functional.conv2d(reference, weight.detach().to_type(ScalarType.Float64), padding: [3, 3]);
        (expected * upstream.to_type(ScalarType.Float64)).sum().backward();

        Tensor? first = null;
        for (int round = 0; round < 50; round++)
        {
            var input = pooled.clone().requires_grad_(true);
            var logits = block.SpatialLogits(input);
            (logits * upstream).sum().backward();
            var gradient = input.grad!;
            if (first is null)
            {
                first = gradient.clone();
                CollectionAssert.AreEqual(new long[] { 32, 1, 7, 7 }, logits.shape);
                Assert.IsLessThan(1e-5, (logits.to_type(ScalarType.Float64) - expected).abs().max().item<double>(), "the 7x7 convolution, padding 3");
                Assert.IsLessThan(1e-5, (gradient.to_type(ScalarType.Float64) - reference.grad!).abs().max().item<double>(), "its input gradient");
            }
            Assert.IsTrue(gradient.isfinite().all().item<bool>() && gradient.equal(first).all().item<bool>(), $"round {round}: the same finite gradient");
        }
    }

    private static NetworkOutput Peer(Tensor logits, Tensor embedding) => new(logits, embedding, [], []);

    private static NetworkOutput Output(double[,] logits, double[,] aux) => Output(Leaf(logits), Leaf(aux));

    private static NetworkOutput Output(Tensor logits, Tensor aux) => new(logits, empty(4, 0), [], [aux]);

    private static LossBatch PeerBatch(NetworkOutput[] peers, long[] labels, long[] joint, int rotationCount)
        => new(new NetworkOutput(peers), null, tensor(labels), tensor(joint), rotationCount);

    private static Tensor Leaf(double[,] values)
        => tensor(Flatten(values), dtype: ScalarType.Float32).view(values.GetLength(0), values.GetLength(1)).requires_grad_(true);

    private static double[,] ToTable(Tensor logits)
    {
        var values = logits.to_type(ScalarType.Float64).data<double>().ToArray();
        int rows = (int)logits.shape[0], columns = (int)logits.shape[1];
        return Table(rows, columns, (r, c) => values[r * columns + c]);
    }

    private static float[] Flatten(double[,] values) => values.Cast<double>().Select(v => (float)v).ToArray();

    private static double[,] Table(int rows, int columns, Func<int, int, double> value)
    {
        var table = new double[rows, columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                table[r, c] = value(r, c);
        return table;
    }

    private static double[] Softmax(double[,] logits, int row, double t)
    {
        int k = logits.GetLength(1);
        var e = Enumerable.Range(0, k).Select(c => Math.Exp(logits[row, c] / t)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static double CrossEntropy(double[,] logits, int row, long label) => -Math.Log(Softmax(logits, row, 1)[label]);

    /// <summary>T² · mean over rows of KL(softmax(target/T) ‖ softmax(student/T)).</summary>
    private static double SoftKl(double[,] student, double[,] target, double t)
    {
        int rows = student.GetLength(0);
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            var ps = Softmax(student, r, t);
            var pt = Softmax(target, r, t);
            sum += pt.Select((p, c) => p * (Math.Log(p) - Math.Log(ps[c]))).Sum();
        }
        return t * t * sum / rows;
    }
}
