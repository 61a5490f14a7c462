// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Methods.Online;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Online;

[TestClass]
[DoNotParallelize]
public sealed class OnlineEstimatorTests
{
    [TestMethod]
    public void PeerGroup_NamesEachTensorOnce_UnderItsPeer_AndRunsEveryPeer()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        var a = NetworkRegistry.Create("resnet8", 1, 10);
        var b = NetworkRegistry.Create("wrn16_1", 1, 10);
        int expected = a.state_dict().Count + b.state_dict().Count;
        using var group = new PeerGroupNetwork([a, b]);

        var names = group.state_dict().Keys.ToArray();
        Assert.HasCount(expected, names, "every tensor once: the engine's views over the peers are not registered");
        Assert.IsTrue(names.All(n => n.StartsWith("peers.0.", StringComparison.Ordinal) || n.StartsWith("peers.1.", StringComparison.Ordinal)), names[0]);
        Assert.AreEqual("resnet8+wrn16_1", group.Architecture);
        Assert.AreEqual(a.parameters().Count() + b.parameters().Count(),
            group.Backbone.parameters().Count() + group.Auxiliary.parameters().Count(), "the views cover every parameter");

        group.eval();
        group.ComputeAuxiliary = true;
        var input = randn(2, 1, 28, 28);
        var output = group.call(input);
        Assert.HasCount(2, output.Peers);
        Assert.IsTrue(TensorAssert.Same(output.Logits, a.ForwardLogits(input)), "the group's own logits are peer 0's");
        Assert.IsTrue(TensorAssert.Same(output.Peers[1].Logits, b.ForwardLogits(input)));
        Assert.HasCount(b.AuxiliaryBranchCount, output.Peers[1].AuxLogits);
    }

    [TestMethod]
    [TestCategory(TestCategories.CpuSensitive)]
    public void HsakdOnline_OnRealImages_TrainsTwoPeersWithoutATeacher_AndReturnsPeer0()
    {
        var ml = new MLContext(seed: 3);
        var epochs = new List<TrainingMetrics>();
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("returning peer", StringComparison.Ordinal)) log.Add(e.Message); };
        var options = new OnlineOptions { Architecture = "resnet8", Epochs = 2, BatchSize = 32, Seed = 4, MetricsCallback = epochs.Add };

        var (accuracy, model) = RealImages.FitAndScore(ml, ml.Distillation.Online(options), trainRows: 400, testRows: 300);
        Console.WriteLine($"accuracy {accuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.2, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        Assert.IsTrue(epochs.All(m => m.Phase == "HSAKD-online"));
        CollectionAssert.AreEqual(new[] { "ce", "aux_ce", "kl", "aux_kl" }, epochs[0].LossTerms.Keys.ToArray());
        Assert.IsTrue(epochs.All(m => m.LossTerms["kl"] > 0 && m.LossTerms["aux_kl"] > 0), "the peers differ, so they teach each other");
        CollectionAssert.AreEquivalent(new[] { "peer0_train_acc", "peer1_train_acc" }, epochs[^1].Diagnostics.Keys.ToArray());
        Assert.AreEqual(epochs[^1].TrainAccuracy, epochs[^1].Diagnostics["peer0_train_acc"], 1e-12, "the engine's accuracy is peer 0's");
        Assert.HasCount(1, log);
        StringAssert.Contains(log[0], "returning peer 0 (no validation set)");
        Assert.AreEqual("resnet8", model.LastTransformer.Model.Network.Architecture, "the fitted model is one peer, not the group");
    }

    [TestMethod]
    [TestCategory(TestCategories.CpuSensitive)]
    public void Mcl_WithAValidationSet_ReturnsThePeerBestOnIt_AndFitPeersGivesThemAll()
    {
        var ml = new MLContext(seed: 3);
        var key = ml.Transforms.Conversion.MapValueToKey("Label").Fit(RealImages.Train(ml, 400));
        var train = key.Transform(RealImages.Train(ml, 400));
        var validation = key.Transform(RealImages.Test(ml, 300));
        var options = new OnlineOptions
        {
            Method = OnlineMethod.Mcl, PeerArchitectures = ["resnet8", "wrn16_1"], Epochs = 3, BatchSize = 32, Seed = 4, ValidationSet = validation,
        };

        using var peers = ml.Distillation.Online(options).FitPeers(train);

        Assert.HasCount(2, peers.Peers);
        CollectionAssert.AreEqual(new[] { "resnet8", "wrn16_1" }, peers.Architectures.ToArray());
        var accuracies = peers.ValidationAccuracies!;
        Console.WriteLine($"validation accuracies {string.Join(", ", accuracies)}; selected {peers.SelectedIndex}");
        Assert.AreEqual(accuracies[0] >= accuracies[1] ? 0 : 1, peers.SelectedIndex);
        for (int m = 0; m < 2; m++)
        {
            Assert.AreEqual(options.PeerArchitectures[m], peers.Peers[m].Model.Network.Architecture);
            double scored = ml.MulticlassClassification.Evaluate(peers.Peers[m].Transform(validation)).MicroAccuracy;
            Assert.AreEqual(accuracies[m], scored, 1e-9, $"peer {m}: the recorded accuracy is the fitted model's");
            Assert.IsGreaterThan(0.15, scored, $"peer {m} beats chance (0.10)");
        }
        Assert.AreSame(peers.Peers[peers.SelectedIndex], peers.Selected);
    }

    [TestMethod]
    [TestCategory(TestCategories.CpuSensitive)]
    public void Mcl_CancelledAndResumed_GivesBitIdenticalPeers()
    {
        var ml = new MLContext(seed: 1);
        var raw = RealImages.Train(ml, 64);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        string folder = Directory.CreateTempSubdirectory("distill-online-").FullName;
        try
        {
            OnlineOptions Options(string? dir) => new()
            {
                Method = OnlineMethod.Mcl, Architecture = "resnet8", Epochs = 3, BatchSize = 16, Seed = 21, CheckpointDirectory = dir,
            };

            using var uninterrupted = ml.Distillation.Online(Options(null)).FitPeers(data);

            using var cts = new CancellationTokenSource();
            var first = Options(folder);
            first.CancellationToken = cts.Token;
            first.MetricsCallback = m => { if (m.Epoch == 1) cts.Cancel(); };
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Online(first).FitPeers(data));
            var again = Options(folder);
            again.Resume = true;
            using var resumed = ml.Distillation.Online(again).FitPeers(data);

            // Epochs 2 and 3 depend on both peers and on the embedding heads written at epoch 1.
            for (int m = 0; m < 2; m++)
            {
                var expected = uninterrupted.Peers[m].Model.Network.state_dict();
                foreach (var (name, tensor) in resumed.Peers[m].Model.Network.state_dict())
                    Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"peer {m} '{name}' differs from the uninterrupted run");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    [TestCategory(TestCategories.CpuSensitive)]
    [DataRow(false, "FFL")]
    [DataRow(true, "FFL-MFEF")]
    public void Ffl_OnRealImages_TrainsThePeersAndTheFusedClassifier(bool mfef, string phase)
    {
        var ml = new MLContext(seed: 3);
        var epochs = new List<TrainingMetrics>();
        var options = new OnlineOptions
        {
            Method = OnlineMethod.Ffl, MfefBlocks = mfef, Architecture = "resnet8", Epochs = 3, BatchSize = 32, Seed = 4, MetricsCallback = epochs.Add,
        };

        var (accuracy, _) = RealImages.FitAndScore(ml, ml.Distillation.Online(options), trainRows: 400, testRows: 300);
        Console.WriteLine($"accuracy {accuracy:P1}; " + string.Join("; ", epochs));

        Assert.IsGreaterThan(0.2, accuracy, $"10 classes: chance is 0.10, got {accuracy:P1}");
        Assert.IsTrue(epochs.All(m => m.Phase == phase));
        CollectionAssert.AreEqual(new[] { "ce", "fused_ce", "kl", "fused_kl" }, epochs[0].LossTerms.Keys.ToArray());
        CollectionAssert.AreEquivalent(new[] { "peer0_train_acc", "peer1_train_acc", "fused_train_acc", "kl_weight" }, epochs[^1].Diagnostics.Keys.ToArray());
        // Ramp-up over ⌈3 · 80 / 300⌉ = 1 epoch: exp(-5) in epoch 1, then 1.
        Assert.AreEqual(Math.Exp(-5), epochs[0].Diagnostics["kl_weight"], 1e-12);
        Assert.AreEqual(1.0, epochs[^1].Diagnostics["kl_weight"]);
        Assert.IsGreaterThan(0.2, epochs[^1].Diagnostics["fused_train_acc"], "the fused classifier learns too");
    }

    [TestMethod]
    public void Ffl_PeersWhoseLastMapsDiffer_AreRefusedBeforeTheFirstStep_NamingTheirSizes()
    {
        var ml = new MLContext(seed: 1);
        var raw = RealImages.Train(ml, 32);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        var epochs = new List<TrainingMetrics>();
        var options = new OnlineOptions
        {
            Method = OnlineMethod.Ffl, PeerArchitectures = ["resnet8", "mobilenetv2_half"], Epochs = 1, BatchSize = 16, MetricsCallback = epochs.Add,
        };

        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Online(options).Fit(data));

        Assert.AreEqual("PeerArchitectures", e.ParamName);
        StringAssert.Contains(e.Message, "[resnet8, mobilenetv2_half] give [7x7, ");
        Assert.IsEmpty(epochs, "refused before any training");
    }

    [TestMethod]
    public void AbsurdOptions_AreRefusedBeforeTraining_NamingTheOption()
    {
        var ml = new MLContext(seed: 1);
        void Refused<T>(OnlineOptions options, string name, string message) where T : ArgumentException
        {
            var e = Assert.ThrowsExactly<T>(() => ml.Distillation.Online(options));
            Assert.AreEqual(name, e.ParamName);
            StringAssert.Contains(e.Message, message);
        }

        Refused<ArgumentOutOfRangeException>(new OnlineOptions { PeerCount = 1 }, "PeerCount", "at least 2");
        Refused<ArgumentException>(new OnlineOptions { PeerArchitectures = ["resnet8"] }, "PeerArchitectures", "at least 2");
        Refused<ArgumentException>(new OnlineOptions { PeerArchitectures = ["resnet8", "resnet9"] }, "PeerArchitectures[1]", "resnet9");
        Refused<ArgumentException>(new OnlineOptions { PeerArchitectures = ["resnet8", "vgg8"] }, "PeerArchitectures", "[3, 4] branches");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { Temperature = 0 }, "Temperature", "positive");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { Method = OnlineMethod.Mcl, ContrastTemperature = -1 }, "ContrastTemperature", "positive");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { EmbeddingWidth = 0 }, "EmbeddingWidth", "at least 1");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { SoftInteractiveContrastWeight = double.NaN }, "SoftInteractiveContrastWeight", ">= 0");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { Method = OnlineMethod.Ffl, FusionWeightDecay = -1 }, "FusionWeightDecay", ">= 0");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { Method = OnlineMethod.Ffl, FusionRampUpEpochs = -1 }, "FusionRampUpEpochs", ">= 0");
        Refused<ArgumentOutOfRangeException>(new OnlineOptions { Method = (OnlineMethod)7 }, "Method", "Hsakd, Mcl or Ffl");

        // MCL mixes any architectures.
        Assert.IsNotNull(ml.Distillation.Online(new OnlineOptions { Method = OnlineMethod.Mcl, PeerArchitectures = ["resnet8", "vgg8"] }));
    }
}
