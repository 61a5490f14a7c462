// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.ZipfLs;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.ZipfLs;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class ZipfLsTests
{
    // Votes [[3, 1, 1, 0], [0, 2, 2, 1]], labels [0, 3], logits [[1, 2, 0.5, -1], [0.3, -0.2, 1.5, 2]]. By hand (Python, math module
    // only): ranks [1, 2, 2, 4] and [4, 1, 1, 3] (ties share the smaller rank; no votes: the rank after the voted classes), q over the
    // non-target classes [0, 0.4, 0.4, 0.2] and [1/9, 4/9, 4/9, 0], mean KL(q ‖ softmax of the non-target logits) = 0.35248792386989136.
    [TestMethod]
    public void RanksTargetsAndTerm_EqualTheHandComputedValues_WithTies()
    {
        using var scope = NewDisposeScope();
        var votes = tensor(new float[,] { { 3, 1, 1, 0 }, { 0, 2, 2, 1 } });
        var labels = tensor(new long[] { 0, 3 });
        var logits = tensor(new float[,] { { 1, 2, 0.5f, -1 }, { 0.3f, -0.2f, 1.5f, 2 } });

        var ranks = ZipfLsLoss.Ranks(votes);
        var targets = ZipfLsLoss.Targets(ranks, labels, 1);
        var term = ZipfLsLoss.NonTargetKl(logits, labels, targets);

        CollectionAssert.AreEqual(new float[] { 1, 2, 2, 4, 4, 1, 1, 3 }, ranks.data<float>().ToArray());
        float[] q = [0, 0.4f, 0.4f, 0.2f, 1 / 9f, 4 / 9f, 4 / 9f, 0];
        var actual = targets.data<float>().ToArray();
        for (int i = 0; i < q.Length; i++)
            Assert.AreEqual(q[i], actual[i], 1e-6f, $"q[{i}]");
        Assert.AreEqual(0.35248792386989136, term.item<float>(), 1e-6);
    }

    [TestMethod]
    public void Votes_CountTheHeadsWinnerAtEveryPosition()
    {
        // A 2x2 map of 2 channels: positions (1, 0), (0, 1), (-1, -1), (2, 1) under the head rows [1, 0], [0, 1], [-1, -1] win
        // classes 0, 1, 2, 0: votes [2, 1, 1].
        using var scope = NewDisposeScope();
        using var head = nn.Linear(2, 3);
        using (no_grad())
        {
            head.weight!.copy_(tensor(new float[,] { { 1, 0 }, { 0, 1 }, { -1, -1 } }));
            head.bias!.zero_();
        }
        var map = tensor(new float[] { 1, 0, -1, 2, 0, 1, -1, 1 }).reshape(1, 2, 2, 2);

        var votes = ZipfLsLoss.Votes(map, new DenseHead(head, Upsample: false));
        var upsampled = ZipfLsLoss.Votes(map, new DenseHead(head, Upsample: true));

        CollectionAssert.AreEqual(new float[] { 2, 1, 1 }, votes.data<float>().ToArray());
        Assert.AreEqual(16f, upsampled.sum().item<float>(), "x2 upsampling: 16 positions vote");
    }

    [TestMethod]
    public void ZipfLabelSmoothing_OnRealImages_TrainsWithoutATeacher_AndBeatsChance()
    {
        var ml = new MLContext(seed: 5);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("ranked by the logits", StringComparison.Ordinal)) log.Add(e.Message); };
        var epochs = new List<TrainingMetrics>();
        var options = new ZipfLsOptions { Architecture = "resnet8", Epochs = 3, BatchSize = 32, Seed = 9, MetricsCallback = epochs.Add };

        var (accuracy, _) = RealImages.FitAndScore(ml, ml.Distillation.ZipfLabelSmoothing(options));
        Console.WriteLine($"accuracy {accuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.2, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        Assert.IsTrue(epochs.All(m => m.Phase == "ZipfLS"));
        CollectionAssert.AreEqual(new[] { "ce", "zipf" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs.All(m => m.LossTerms["zipf"] > 0 && double.IsFinite(m.LossTerms["zipf"])));
        Assert.IsEmpty(log, string.Join(" | ", log) + " resnet8's head reads its last stage map: dense votes, no fallback");
    }

    [TestMethod]
    [DataRow("mobilenetv2_half", "channels, head input")]
    [DataRow("wrn16_1", "the embedding is not the average of the last stage map")]
    public void ANetworkWithoutADenseHead_RanksByItsLogits_AndSaysWhy(string architecture, string why)
    {
        var ml = new MLContext(seed: 5);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("ranked by the logits", StringComparison.Ordinal)) log.Add(e.Message); };
        var options = new ZipfLsOptions { Architecture = architecture, Epochs = 1, BatchSize = 32, Seed = 9 };

        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Distillation.ZipfLabelSmoothing(options)).Fit(RealImages.Train(ml, 32));

        Assert.IsTrue(log.Any(m => m.Contains("ranked by the logits", StringComparison.Ordinal) && m.Contains(why, StringComparison.Ordinal)), string.Join(" | ", log));
    }

    [TestMethod]
    public void AbsurdOptions_AreRefusedNamingTheOption()
    {
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext().Distillation.ZipfLabelSmoothing(new ZipfLsOptions { Power = 0 }));
        Assert.AreEqual(nameof(ZipfLsOptions.Power), e.ParamName);
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext().Distillation.ZipfLabelSmoothing(new ZipfLsOptions { Weight = -1 }));
        Assert.AreEqual(nameof(ZipfLsOptions.Weight), e.ParamName);
    }
}
