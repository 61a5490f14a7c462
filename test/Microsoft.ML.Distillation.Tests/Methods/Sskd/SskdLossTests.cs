// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Methods.Sskd;

namespace Microsoft.ML.Distillation.Tests.Methods.Sskd;

/// <summary>SSKD's pieces against values written out by hand with doubles: the selection, the similarity matrix, every loss term.</summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class SskdLossTests
{
    // B = 2 images (labels 1 and 2) x 4 rotations = 8 rows, K = 3 classes, D = 2 features.
    // Teacher logits are chosen so that some rotated rows are wrong: rotated rows r1, r2, r3, r5, r6, r7 rank their true class
    // 1, 0, 2, 1, 0, 1 (number of classes scored strictly higher).
    private static readonly double[][] TeacherLogits =
    [
        [0.1, 2.0, -1.0], [1.5, 0.5, 0.0], [0.0, 1.0, 0.2], [2.0, 1.0, 1.5],
        [0.3, 0.1, 1.2], [1.0, 0.0, 0.5], [0.0, 0.2, 0.9], [0.5, 0.4, 0.45],
    ];

    private static readonly double[][] StudentLogits =
    [
        [0.2, 0.4, -0.3], [0.0, 0.1, 0.3], [-0.5, 0.6, 0.1], [0.3, -0.2, 0.0],
        [0.1, 0.2, 0.7], [0.4, 0.0, -0.1], [-0.2, 0.3, 0.5], [0.6, 0.1, 0.2],
    ];

    private static readonly double[][] TeacherEmbedding =
    [
        [1.0, 0.2], [0.9, 0.4], [0.3, 1.0], [1.0, 1.0],
        [0.2, 1.0], [0.5, 0.5], [1.0, 0.1], [0.1, 0.3],
    ];

    private static readonly double[][] StudentEmbedding =
    [
        [0.5, 0.1], [0.2, 0.9], [0.7, 0.7], [0.9, 0.2],
        [0.1, 0.8], [0.6, 0.3], [0.4, 0.4], [0.8, 0.5],
    ];

    private static readonly long[] Labels = [1, 2];

    private static Tensor T(double[][] rows) => tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray(), [rows.Length, rows[0].Length]);

    /// <summary>A projection head that is the identity on non-negative inputs: both layers W = I, b = 0.</summary>
    private static ProjectionHead IdentityHead(int size)
    {
        var head = new ProjectionHead(size);
        using var noGrad = no_grad();
        foreach (var (name, p) in head.named_parameters())
        {
            if (name.EndsWith("weight", StringComparison.Ordinal))
                p.copy_(eye(size));
            else
                p.zero_();
        }
        return head;
    }

    private static LossBatch Batch() => new(
        new NetworkOutput(T(StudentLogits), T(StudentEmbedding), [], []),
        new NetworkOutput(T(TeacherLogits), T(TeacherEmbedding), [], []),
        tensor(Labels), tensor(new long[] { 4, 5, 6, 7, 8, 9, 10, 11 }), 4);

    private static double[] Softmax(double[] z, double temperature)
    {
        var e = z.Select(v => Math.Exp(v / temperature)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static double Kl(double[] student, double[] teacher, double temperature)
    {
        var ps = Softmax(student, temperature);
        var pt = Softmax(teacher, temperature);
        return pt.Select((p, c) => p * (Math.Log(p) - Math.Log(ps[c]))).Sum();
    }

    private static double MeanKl(double[][] s, double[][] t, IReadOnlyList<int> rows, double temperature)
        => rows.Count == 0 ? 0 : temperature * temperature * rows.Average(r => Kl(s[r], t[r], temperature));

    /// <summary>The reference's selection, written out: rank rows, keep every correct one and the floor(ratio·wrong) best wrong ones.</summary>
    private static int[] SelectByHand(double[][] scores, int[] targets, double ratio)
    {
        var rank = scores.Select((row, r) => row.Count(v => v > row[targets[r]])).ToArray();
        int wrong = rank.Count(k => k > 0);
        int keep = scores.Length - wrong + (int)Math.Floor(wrong * ratio);
        return Enumerable.Range(0, scores.Length).OrderBy(r => rank[r]).ThenBy(r => r).Take(keep).Order().ToArray();
    }

    private static double[][] Rotated(double[][] rows) => rows.Where((_, r) => r % 4 != 0).ToArray();

    private static double[][] Normal(double[][] rows) => rows.Where((_, r) => r % 4 == 0).ToArray();

    private static double[][] Cosines(double[][] features)
    {
        double Cos(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum() / (Math.Sqrt(a.Sum(x => x * x)) * Math.Sqrt(b.Sum(x => x * x)));
        var normal = Normal(features);
        return Rotated(features).Select(a => normal.Select(n => Cos(a, n)).ToArray()).ToArray();
    }

    [TestMethod]
    public void Selection_KeepsTheCorrectRowsAndTheLeastWrongShare_OnAHandMadeExample()
    {
        // Ranks of the target per row: 0, 2, 1, 0, 2, 1 -> correct rows 0 and 3; wrong rows by (rank, row): 2, 5 (rank 1), 1, 4 (rank 2).
        var scores = tensor(new float[]
        {
            5, 1, 0,    // target 0: rank 0
            3, 2, 1,    // target 2: rank 2
            1, 2, 0,    // target 0: rank 1
            0, 0, 4,    // target 2: rank 0
            1, 2, 3,    // target 0: rank 2
            0, 1, 0,    // target 0: rank 1
        }, [6, 3]);
        var targets = tensor(new long[] { 0, 2, 0, 2, 0, 0 });

        CollectionAssert.AreEqual(new long[] { 0, 2, 1, 0, 2, 1 }, ErrorLevelSelection.TargetRanks(scores, targets).data<long>().ToArray());
        // 4 wrong rows: ratio 0.75 keeps 3 of them: rows 2 and 5 (rank 1), then row 1 (rank 2, earlier than row 4).
        CollectionAssert.AreEqual(new long[] { 0, 1, 2, 3, 5 }, ErrorLevelSelection.Indices(scores, targets, 0.75));
        CollectionAssert.AreEqual(new long[] { 0, 1, 2, 3, 4, 5 }, ErrorLevelSelection.Indices(scores, targets, 1.0));
        CollectionAssert.AreEqual(new long[] { 0, 2, 3, 5 }, ErrorLevelSelection.Indices(scores, targets, 0.5));
        CollectionAssert.AreEqual(new long[] { 0, 3 }, ErrorLevelSelection.Indices(scores, targets, 0.0));
    }

    [TestMethod]
    public void Selection_TiesOfTheTargetCountInItsFavour_AndBadRatiosAreRefused()
    {
        var scores = tensor(new float[] { 1, 1, 0, 2, 2, 2 }, [2, 3]);
        var targets = tensor(new long[] { 1, 2 });

        CollectionAssert.AreEqual(new long[] { 0, 0 }, ErrorLevelSelection.TargetRanks(scores, targets).data<long>().ToArray());
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ErrorLevelSelection.Mask(scores, targets, 1.5));
    }

    [TestMethod]
    public void Rotated_TakesRows1To3OfEverySample_InSampleMajorOrder()
    {
        var rows = arange(8, dtype: ScalarType.Int64).unsqueeze(1);

        CollectionAssert.AreEqual(new long[] { 1, 2, 3, 5, 6, 7 }, Rotations.Rotated(rows).flatten().data<long>().ToArray());
    }

    [TestMethod]
    public void SimilarityMatrix_Is3BxB_OfCosinesBetweenRotatedViewsAndUnrotatedImages()
    {
        var features = T(StudentEmbedding);

        var matrix = ViewSimilarity.Matrix(features);

        CollectionAssert.AreEqual(new long[] { 6, 2 }, matrix.shape);
        var expected = Cosines(StudentEmbedding);
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 2; c++)
                Assert.AreEqual(expected[r][c], matrix[r, c].item<float>(), 1e-6, $"A[{r}, {c}]");
        CollectionAssert.AreEqual(new long[] { 0, 0, 0, 1, 1, 1 }, ViewSimilarity.Targets(2, CPU).data<long>().ToArray());

        using var larger = randn(5 * 4, 7);
        CollectionAssert.AreEqual(new long[] { 15, 5 }, ViewSimilarity.Matrix(larger).shape, "3B x B for B = 5");
    }

    [TestMethod]
    public void SskdLoss_EveryTermMatchesHandComputedValues()
    {
        var settings = new SskdLossSettings { RotatedRatio = 0.5 };
        using var loss = new SskdLoss(settings, IdentityHead(2), IdentityHead(2));

        var result = loss.Compute(Batch());

        double ce = Normal(StudentLogits).Select((z, i) => -Math.Log(Softmax(z, 1)[Labels[i]])).Average();
        double kd = MeanKl(Normal(StudentLogits), Normal(TeacherLogits), [0, 1], 4);
        int[] rotatedTargets = [1, 1, 1, 2, 2, 2];
        var keepTf = SelectByHand(Rotated(TeacherLogits), rotatedTargets, 0.5);
        CollectionAssert.AreEqual(new[] { 0, 1, 3, 4 }, keepTf, "ranks 1,0,2,1,0,1: correct rows 1 and 4, then the first two of rank 1");
        double kdRotated = MeanKl(Rotated(StudentLogits), Rotated(TeacherLogits), keepTf, 4);
        var teacherA = Cosines(TeacherEmbedding);
        var studentA = Cosines(StudentEmbedding);
        var keepSs = SelectByHand(teacherA, [0, 0, 0, 1, 1, 1], 0.75);
        Assert.IsLessThan(6, keepSs.Length, "the fixture's teacher gets some similarity rows wrong, so the 0.75 selection drops rows");
        double similarity = MeanKl(studentA, teacherA, keepSs, 0.5);

        CollectionAssert.AreEqual(new[] { "ce", "kd", "kd_rotated", "similarity" }, result.Terms.Select(t => t.Key).ToArray());
        Assert.AreEqual(0.1 * ce, result.Terms[0].Value.item<float>(), 1e-6, "0.1 CE on rows 0::4");
        Assert.AreEqual(0.9 * kd, result.Terms[1].Value.item<float>(), 1e-6, "0.9 KD(T=4) on rows 0::4");
        Assert.AreEqual(2.7 * kdRotated, result.Terms[2].Value.item<float>(), 1e-5, "2.7 KD(T=4) on the selected rotated rows");
        Assert.AreEqual(10 * similarity, result.Terms[3].Value.item<float>(), 1e-5, "10 KL(T=0.5) on the selected similarity rows");
        Assert.AreEqual((0.1 * ce) + (0.9 * kd) + (2.7 * kdRotated) + (10 * similarity), result.Total.item<float>(), 1e-5);
        Assert.IsGreaterThan(1e-3, kdRotated);
        Assert.IsGreaterThan(1e-3, similarity);
    }

    [TestMethod]
    public void SskdLoss_GradientsReachTheStudentHeadButNotTheTeacherHead()
    {
        using var studentHead = IdentityHead(2);
        using var teacherHead = IdentityHead(2);
        using var loss = new SskdLoss(new SskdLossSettings(), studentHead, teacherHead);
        var studentEmbedding = T(StudentEmbedding).requires_grad_();
        var batch = new LossBatch(
            new NetworkOutput(T(StudentLogits), studentEmbedding, [], []),
            new NetworkOutput(T(TeacherLogits), T(TeacherEmbedding), [], []),
            tensor(Labels), tensor(new long[] { 4, 5, 6, 7, 8, 9, 10, 11 }), 4);

        loss.Compute(batch).Total.backward();

        Assert.IsTrue(studentHead.parameters().All(p => p.grad is not null && p.grad.abs().sum().item<float>() > 0));
        Assert.IsTrue(teacherHead.parameters().All(p => !p.requires_grad && p.grad is null));
        Assert.IsTrue(studentEmbedding.grad is not null && studentEmbedding.grad.abs().sum().item<float>() > 0);
        Assert.AreSame(studentHead, loss.TrainableModule);
    }

    [TestMethod]
    public void MaskedKl_WithNoSelectedRow_IsZero()
    {
        var s = T(StudentLogits);
        var t = T(TeacherLogits);

        Assert.AreEqual(0f, LossFunctions.SoftenedKl(s, t, 4, zeros(8)).item<float>());
        Assert.AreEqual(LossFunctions.SoftenedKl(s, t, 4).item<float>(), LossFunctions.SoftenedKl(s, t, 4, ones(8)).item<float>(), 1e-6);
    }

    [TestMethod]
    public void TeacherHeadLoss_IsCrossEntropyOfTheRawCosinesAgainstEachViewsOwnImage()
    {
        using var head = IdentityHead(2);
        var loss = new SskdTeacherHeadLoss(head);

        var result = loss.Compute(new LossBatch(
            new NetworkOutput(T(TeacherLogits), T(TeacherEmbedding), [], []), null, tensor(Labels), tensor(new long[] { 4, 5, 6, 7, 8, 9, 10, 11 }), 4));

        var a = Cosines(TeacherEmbedding);
        double expected = a.Select((row, r) => -Math.Log(Softmax(row, 1)[r / 3])).Average();
        Assert.AreEqual(expected, result.Total.item<float>(), 1e-6);
        Assert.IsFalse(loss.RequiresTeacher);
        Assert.IsTrue(loss.CropsEachView && loss.UsesRotations);
    }
}
