// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Networks;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ClassifierNetworkTests
{
    private const int Batch = 2;
    private const int Classes = 10;

    public static IEnumerable<object[]> AllNames => NetworkRegistry.Names.Select(name => new object[] { name });

    [TestMethod]
    [DynamicData(nameof(AllNames))]
    public void Forward_GivesExpectedShapes_OnGreyAndRgbInputs(string architecture)
    {
        random.manual_seed(1);
        foreach (var (channels, size) in new[] { (1, 28), (3, 32) })
        {
            using var scope = NewDisposeScope();
            using var network = NetworkRegistry.Create(architecture, channels, Classes);
            var backbone = ((BranchedClassifierNetwork)network).TappedBackbone;
            network.train();
            var output = network.forward(randn(Batch, channels, size, size));

            var context = $"{architecture} on {channels}x{size}x{size}";
            CollectionAssert.AreEqual(new long[] { Batch, Classes }, output.Logits.shape, context);
            CollectionAssert.AreEqual(new long[] { Batch, backbone.EmbeddingSize }, output.Embedding.shape, context);
            Assert.AreEqual(network.AuxiliaryBranchCount, output.AuxLogits.Count, context);
            Assert.AreEqual(output.AuxLogits.Count, output.Features.Count, context);
            foreach (var aux in output.AuxLogits)
            {
                CollectionAssert.AreEqual(new long[] { Batch, 4 * Classes }, aux.shape, context);
                Assert.IsTrue(aux.isfinite().all().item<bool>(), context);
            }

            long previousSize = long.MaxValue;
            for (var i = 0; i < output.Features.Count; i++)
            {
                var feature = output.Features[i];
                Assert.AreEqual(4L, feature.dim(), context);
                Assert.AreEqual(Batch, feature.shape[0], context);
                Assert.AreEqual(backbone.TapChannels[i], (int)feature.shape[1], context);
                Assert.IsTrue(feature.shape[2] <= previousSize, $"{context}: taps go shallow to deep");
                previousSize = feature.shape[2];
            }

            Assert.IsTrue(output.Logits.isfinite().all().item<bool>(), context);
        }
    }

    [TestMethod]
    [DataRow("resnet20", 3)]
    [DataRow("resnet32x4", 3)]
    [DataRow("wrn16_1", 3)]
    [DataRow("wrn40_2", 3)]
    [DataRow("vgg8", 4)]
    [DataRow("vgg13", 4)]
    [DataRow("mobilenetv2_half_s1", 4)]
    [DataRow("mobilenetv2_half", 4)]
    [DataRow("shufflenetv1", 3)]
    [DataRow("shufflenetv2", 3)]
    public void AuxiliaryBranchCount_FollowsTheFamily(string architecture, int expected)
    {
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        Assert.AreEqual(expected, network.AuxiliaryBranchCount);
    }

    [TestMethod]
    [DynamicData(nameof(AllNames))]
    public void RegistryBranchCount_MatchesTheBuiltNetwork(string architecture)
    {
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        Assert.AreEqual(network.AuxiliaryBranchCount, NetworkRegistry.AuxiliaryBranchCount(architecture), architecture);
        CollectionAssert.Contains(NetworkRegistry.NamesWithAuxiliaryBranches(network.AuxiliaryBranchCount).ToList(), architecture);
    }

    [TestMethod]
    public void Taps_HaveTheReferenceResolutions_At32Pixels()
    {
        using var scope = NewDisposeScope();
        using var resnet = NetworkRegistry.Create("resnet8x4", 3, Classes);
        using var vgg = NetworkRegistry.Create("vgg8", 3, Classes);
        var x = randn(Batch, 3, 32, 32);

        var resnetTaps = resnet.forward(x).Features;
        CollectionAssert.AreEqual(new long[] { Batch, 64, 32, 32 }, resnetTaps[0].shape);
        CollectionAssert.AreEqual(new long[] { Batch, 128, 16, 16 }, resnetTaps[1].shape);
        CollectionAssert.AreEqual(new long[] { Batch, 256, 8, 8 }, resnetTaps[2].shape);

        // VGG: ReLU(block0) 64@32, ReLU(block1) 128@16, ReLU(block2) 256@8, ReLU(block4) 512@4.
        var vggTaps = vgg.forward(x).Features;
        CollectionAssert.AreEqual(new long[] { Batch, 64, 32, 32 }, vggTaps[0].shape);
        CollectionAssert.AreEqual(new long[] { Batch, 128, 16, 16 }, vggTaps[1].shape);
        CollectionAssert.AreEqual(new long[] { Batch, 256, 8, 8 }, vggTaps[2].shape);
        CollectionAssert.AreEqual(new long[] { Batch, 512, 4, 4 }, vggTaps[3].shape);
        Assert.IsTrue(vggTaps.All(t => t.min().item<float>() >= 0), "VGG taps are post-ReLU");
    }

    [TestMethod]
    public void ComputeAuxiliaryFalse_GivesNoAuxLogitsButKeepsFeatures()
    {
        using var scope = NewDisposeScope();
        using var network = NetworkRegistry.Create("wrn16_1", 1, Classes);
        network.ComputeAuxiliary = false;
        var output = network.forward(randn(Batch, 1, 28, 28));
        Assert.AreEqual(0, output.AuxLogits.Count);
        Assert.AreEqual(3, output.Features.Count);
        CollectionAssert.AreEqual(new long[] { Batch, Classes }, output.Logits.shape);
    }

    [TestMethod]
    [DataRow("resnet8")]
    [DataRow("wrn16_1")]
    [DataRow("vgg8")]
    public void ForwardLogits_MatchesFullForward_InEvalMode(string architecture)
    {
        using var scope = NewDisposeScope();
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        network.eval();
        using var noGrad = no_grad();
        var x = randn(Batch, 3, 32, 32);
        var full = network.forward(x);
        var fast = network.ForwardLogits(x);
        Assert.IsTrue(full.Logits.allclose(fast, rtol: 1e-5, atol: 1e-6));

        // The embedding is what feeds the main head.
        var head = network.Backbone.named_modules().Single(m => m.name is "fc" or "classifier").module;
        var fromEmbedding = ((nn.Module<Tensor, Tensor>)head).call(full.Embedding);
        Assert.IsTrue(full.Logits.allclose(fromEmbedding, rtol: 1e-5, atol: 1e-6));

        // ResNet and VGG pool their deepest tap directly; WRN pools ReLU(BN(tap)) instead.
        var pooledDeepestTap = full.Features[^1].mean([2L, 3L]);
        Assert.AreEqual(architecture != "wrn16_1", full.Embedding.allclose(pooledDeepestTap, rtol: 1e-5, atol: 1e-6));
    }

    [TestMethod]
    public void PooledMap_IsTheMapTheHeadPools_ForEveryRegisteredNetwork()
    {
        foreach (string architecture in NetworkRegistry.Names)
        {
            using var scope = NewDisposeScope();
            using var network = NetworkRegistry.Create(architecture, 3, Classes);
            network.eval();
            using var noGrad = no_grad();
            var output = network.forward(randn(2, 3, 32, 32));

            Assert.IsNotNull(output.PooledMap, architecture);
            Assert.AreEqual(4L, output.PooledMap.dim(), architecture);
            Assert.IsTrue(output.PooledMap.mean([2L, 3L]).allclose(output.Embedding, rtol: 1e-5, atol: 1e-6), $"{architecture}: the embedding is the pooled map's average");
        }
    }

    [TestMethod]
    public void WideResNetBlock_ProjectsThePreActivation_WhenTheWidthChanges()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        using var block = new WideResNetBlock(4, 8, stride: 2);
        block.eval();
        using var noGrad = no_grad();

        // Give BN1 a non-trivial affine map so that ReLU(BN1(x)) differs clearly from x.
        var children = block.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        var bn1 = (TorchSharp.Modules.BatchNorm2d)children["bn1"];
        bn1.weight.uniform_(0.5, 2.0);
        bn1.bias!.uniform_(-1.0, 1.0);

        var x = randn(2, 4, 8, 8);
        var a = nn.functional.relu(children["bn1"].call(x));
        var main = children["conv2"].call(nn.functional.relu(children["bn2"].call(children["conv1"].call(a))));
        var expected = main + children["convShortcut"].call(a);
        var wrong = main + children["convShortcut"].call(x);

        var actual = block.call(x);
        CollectionAssert.AreEqual(new long[] { 2, 8, 4, 4 }, actual.shape);
        Assert.IsTrue(actual.allclose(expected, rtol: 1e-5, atol: 1e-5));
        Assert.IsFalse(actual.allclose(wrong, rtol: 1e-3, atol: 1e-3));
    }

    [TestMethod]
    [DataRow("resnet8")]
    [DataRow("wrn16_2")]
    [DataRow("vgg11")]
    public void StateDict_IsSplitIntoBackboneAndAuxiliary(string architecture)
    {
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        var keys = network.state_dict().Keys.ToList();
        Assert.IsTrue(keys.All(k => k.StartsWith("backbone.", StringComparison.Ordinal) || k.StartsWith("auxiliary.", StringComparison.Ordinal)),
            string.Join(", ", keys.Where(k => !k.StartsWith("backbone.", StringComparison.Ordinal) && !k.StartsWith("auxiliary.", StringComparison.Ordinal))));
        Assert.IsTrue(keys.Any(k => k.StartsWith("backbone.", StringComparison.Ordinal)));
        Assert.IsTrue(keys.Any(k => k.StartsWith("auxiliary.", StringComparison.Ordinal)));
        Assert.AreEqual(keys.Count, network.Backbone.state_dict().Count + network.Auxiliary.state_dict().Count);
        for (var l = 1; l <= network.AuxiliaryBranchCount; l++)
        {
            CollectionAssert.Contains(keys, $"auxiliary.fc{l}.weight");
        }
    }

    [TestMethod]
    public void StateDict_UsesReferenceNames()
    {
        using var resnet = NetworkRegistry.Create("resnet20", 3, Classes);
        var resnetKeys = resnet.state_dict().Keys.ToHashSet();
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.conv1.weight", "backbone.bn1.running_mean", "backbone.layer2.0.downsample.0.weight",
                "backbone.layer3.2.bn2.bias", "backbone.fc.weight", "auxiliary.block_extractor1.1.0.conv1.weight",
                "auxiliary.block_extractor3.0.2.conv2.weight",
            },
            resnetKeys.ToArray());

        using var wrn = NetworkRegistry.Create("wrn16_2", 3, Classes);
        var wrnKeys = wrn.state_dict().Keys.ToHashSet();
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.block1.layer.0.convShortcut.weight", "backbone.block3.layer.1.bn2.weight", "backbone.bn1.weight",
                "auxiliary.block_extractor1.0.layer.0.convShortcut.weight", "auxiliary.bn3.weight",
            },
            wrnKeys.ToArray());
        Assert.IsFalse(wrnKeys.Contains("auxiliary.block_extractor3.0.layer.0.convShortcut.weight"), "64k -> 64k needs no projection");

        using var vgg = NetworkRegistry.Create("vgg13", 3, Classes);
        var vggKeys = vgg.state_dict().Keys.ToHashSet();
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.block0.0.weight", "backbone.block0.0.bias", "backbone.block0.4.weight", "backbone.classifier.weight",
                "auxiliary.block_extractor1.1.0.weight", "auxiliary.block_extractor4.0.0.weight",
            },
            vggKeys.ToArray());
    }

    [TestMethod]
    [DataRow("resnet8")]
    [DataRow("wrn16_1")]
    [DataRow("vgg8")]
    [DataRow("mobilenetv2_half")]
    [DataRow("shufflenetv1")]
    [DataRow("shufflenetv2")]
    public void SaveAndLoad_RoundTripTheWholeNetwork(string architecture)
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(Path.GetTempPath(), $"distillation-networks-{Guid.NewGuid():N}.bin");
        try
        {
            random.manual_seed(8);
            using var original = NetworkRegistry.Create(architecture, 1, Classes);
            original.save(path);

            random.manual_seed(9);
            using var restored = NetworkRegistry.Create(architecture, 1, Classes);
            restored.load(path, strict: true);

            original.eval();
            restored.eval();
            using var noGrad = no_grad();
            var x = randn(Batch, 1, 28, 28);
            var expected = original.forward(x);
            var actual = restored.forward(x);
            Assert.IsTrue(actual.Logits.allclose(expected.Logits));
            for (var i = 0; i < expected.AuxLogits.Count; i++)
            {
                Assert.IsTrue(actual.AuxLogits[i].allclose(expected.AuxLogits[i]));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [DataRow("resnet8")]
    [DataRow("wrn16_1")]
    [DataRow("vgg8")]
    [DataRow("mobilenetv2_half")]
    [DataRow("shufflenetv1")]
    [DataRow("shufflenetv2")]
    public void DetachAuxiliaryInputs_StopsAuxGradientsAtTheTaps(string architecture)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(2);
        using var network = NetworkRegistry.Create(architecture, 1, Classes);
        network.train();
        var x = randn(Batch, 1, 28, 28);

        network.DetachAuxiliaryInputs = true;
        AuxLoss(network.forward(x)).backward();
        foreach (var (name, p) in network.Backbone.named_parameters())
        {
            Assert.IsTrue(p.grad is null || p.grad.abs().max().item<float>() == 0, $"backbone.{name} received gradient from the aux loss");
        }

        Assert.IsTrue(network.Auxiliary.parameters().Any(p => p.grad is not null && p.grad.abs().max().item<float>() > 0));

        network.zero_grad();
        network.DetachAuxiliaryInputs = false;
        AuxLoss(network.forward(x)).backward();
        var stem = network.Backbone.parameters().First();
        Assert.IsNotNull(stem.grad);
        Assert.IsTrue(stem.grad.abs().max().item<float>() > 0, "without detaching, the aux loss reaches the stem");
    }

    [TestMethod]
    public void Forward_LeavesNoLiveTensorsBehindTheCallersScope()
    {
        random.manual_seed(3);
        using var network = NetworkRegistry.Create("wrn16_1", 3, Classes);
        network.train();
        var x = randn(Batch, 3, 32, 32);

        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        NetworkOutput output;
        using (NewDisposeScope())
        {
            output = network.forward(x);
            AuxLoss(output).backward();
            Assert.IsFalse(output.Logits.IsInvalid);
        }

        Assert.IsTrue(output.Logits.IsInvalid, "outputs belong to the caller's scope");
        Assert.IsTrue(output.AuxLogits.All(t => t.IsInvalid));
        Assert.IsTrue(output.Features.All(t => t.IsInvalid));
        network.zero_grad(set_to_none: true);
        Assert.AreEqual(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private static Tensor AuxLoss(NetworkOutput output)
    {
        var loss = output.AuxLogits[0].square().mean();
        for (var i = 1; i < output.AuxLogits.Count; i++)
        {
            loss = loss + output.AuxLogits[i].square().mean();
        }

        return loss;
    }
}
