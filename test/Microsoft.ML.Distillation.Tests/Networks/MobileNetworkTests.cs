// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Networks;

/// <summary>
/// The mobile families of the zoo (half-width MobileNetV2 with stride-1 and stride-2 stems, ShuffleNet V1 and V2): shapes at
/// CIFAR and ImageNet resolution, the taps of the HSAKD spec, reference parameter counts, the block details that are easy to
/// get wrong, initialisation and state-dict names.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class MobileNetworkTests
{
    private const int Classes = 10;

    // Expected taps as (channels, size) pairs, shallow to deep, at 32x32; then the embedding size and the aux count.
    [TestMethod]
    [DataRow("mobilenetv2_half_s1", new[] { 12, 32, 16, 16, 48, 8, 160, 4 }, 1280, 4)]
    [DataRow("mobilenetv2_half", new[] { 12, 16, 16, 8, 48, 4, 160, 2 }, 1280, 4)]
    [DataRow("shufflenetv1", new[] { 240, 16, 480, 8, 960, 4 }, 960, 3)]
    [DataRow("shufflenetv2", new[] { 116, 16, 232, 8, 464, 4 }, 1024, 3)]
    public void Forward_At32Pixels_GivesTheSpecTapsAndHeads(string architecture, int[] taps, int embedding, int auxCount)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(21);
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        network.train();
        var output = network.forward(randn(2, 3, 32, 32));

        Assert.AreEqual(auxCount, network.AuxiliaryBranchCount);
        Assert.AreEqual(auxCount, NetworkRegistry.AuxiliaryBranchCount(architecture));
        AssertShapes(output, batch: 2, taps, embedding, auxCount, architecture);
    }

    // At 224x224 every feature map is 7 times larger than at 32x32. Eval mode, so that batch-1 BN is defined.
    [TestMethod]
    [DataRow("mobilenetv2_half_s1", new[] { 12, 224, 16, 112, 48, 56, 160, 28 }, 1280, 4)]
    [DataRow("mobilenetv2_half", new[] { 12, 112, 16, 56, 48, 28, 160, 14 }, 1280, 4)]
    [DataRow("shufflenetv1", new[] { 240, 112, 480, 56, 960, 28 }, 960, 3)]
    [DataRow("shufflenetv2", new[] { 116, 112, 232, 56, 464, 28 }, 1024, 3)]
    public void Forward_At224Pixels_GivesTheScaledTapsAndHeads(string architecture, int[] taps, int embedding, int auxCount)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(22);
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        network.eval();
        using var noGrad = no_grad();
        var output = network.forward(randn(1, 3, 224, 224));
        AssertShapes(output, batch: 1, taps, embedding, auxCount, architecture);
    }

    // HSAKD's rule: every branch ends at the width and resolution of the last stage (the last tap's branch with stride 1).
    [TestMethod]
    [DataRow("mobilenetv2_half_s1", 1280, 4)]
    [DataRow("mobilenetv2_half", 1280, 2)]
    [DataRow("shufflenetv1", 960, 4)]
    [DataRow("shufflenetv2", 1024, 4)]
    public void AuxiliaryExtractors_EndAtTheLastStageShape_At32Pixels(string architecture, int channels, int size)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(28);
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create(architecture, 3, Classes);
        network.eval();
        using var noGrad = no_grad();
        var taps = network.TappedBackbone.ForwardWithTaps(randn(2, 3, 32, 32)).Taps;
        var extractors = network.AuxiliaryClassifier.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        for (var l = 0; l < taps.Count; l++)
        {
            CollectionAssert.AreEqual(
                new long[] { 2, channels, size, size }, extractors[$"block_extractor{l + 1}"].call(taps[l]).shape, $"{architecture} branch {l + 1}");
        }
    }

    // Expected auxiliary parameter counts at K = 100 (heads Linear(C, 400)): the same python arithmetic over the reference
    // layer shapes as the backbone counts in NetworkRegistryTests (conv out*(in/groups)*k*k, BN 2C, Linear in*out+out).
    [TestMethod]
    [DataRow("mobilenetv2_half_s1", 4_671_496L)]
    [DataRow("mobilenetv2_half", 4_671_496L)]
    [DataRow("shufflenetv1", 3_118_740L)]
    [DataRow("shufflenetv2", 4_519_988L)]
    public void AuxiliaryParameterCount_MatchesReference(string architecture, long expected)
    {
        using var network = NetworkRegistry.Create(architecture, 3, 100);
        Assert.AreEqual(expected, NetworkRegistry.CountParameters(network.Auxiliary));
    }

    [TestMethod]
    public void GreyInput_ChangesOnlyTheStem()
    {
        // MobileNetV2: 3x3 stem to 16 channels; ShuffleNets: 1x1 stem to 24 channels.
        foreach (var (architecture, stemWeightsPerInputChannel) in new[] { ("mobilenetv2_half_s1", 16 * 9), ("shufflenetv1", 24), ("shufflenetv2", 24) })
        {
            using var rgb = NetworkRegistry.Create(architecture, 3, 100);
            using var grey = NetworkRegistry.Create(architecture, 1, 100);
            Assert.AreEqual(
                2L * stemWeightsPerInputChannel,
                NetworkRegistry.CountParameters(rgb.Backbone) - NetworkRegistry.CountParameters(grey.Backbone),
                architecture);
        }
    }

    [TestMethod]
    public void MobileNetV2_StemStride_IsTheOnlyDifferenceBetweenTheVariants()
    {
        using var s1 = (BranchedClassifierNetwork)NetworkRegistry.Create("mobilenetv2_half_s1", 3, Classes);
        using var s2 = (BranchedClassifierNetwork)NetworkRegistry.Create("mobilenetv2_half", 3, Classes);
        Assert.AreEqual(1, ((MobileNetV2Backbone)s1.TappedBackbone).StemStride);
        Assert.AreEqual(2, ((MobileNetV2Backbone)s2.TappedBackbone).StemStride);
        var stems = new[] { s1, s2 }.Select(n => n.Backbone.modules().OfType<Conv2d>().First()).ToArray();
        CollectionAssert.AreEqual(new long[] { 1, 1 }, stems[0].stride);
        CollectionAssert.AreEqual(new long[] { 2, 2 }, stems[1].stride);
        CollectionAssert.AreEqual(
            s1.state_dict().Select(p => (p.Key, string.Join("x", p.Value.shape))).ToArray(),
            s2.state_dict().Select(p => (p.Key, string.Join("x", p.Value.shape))).ToArray());
    }

    [TestMethod]
    public void MobileNetV2_UsesTheResidualOnlyForStride1AndEqualWidths()
    {
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create("mobilenetv2_half_s1", 3, Classes);
        var groups = ((MobileNetV2Backbone)network.TappedBackbone).Groups;

        // (t,c,n,s): (1,8,1,1) 16->8: none; (6,12,2,1): 1; (6,16,3,2): 2; (6,32,4,2): 3; (6,48,3,1): 2; (6,80,3,2): 2; (6,160,1,1) 80->160: none.
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 2, 2, 0 }, groups.Select(g => g.Count(b => b.UsesResidual)).ToArray());
        CollectionAssert.AreEqual(new[] { 1, 2, 3, 4, 3, 3, 1 }, groups.Select(g => g.Count).ToArray());

        // The expansion conv exists even for t = 1 (16 -> 16), and the activations are ReLU, not ReLU6.
        var first = groups[0][0].Layers;
        CollectionAssert.AreEqual(new long[] { 16, 16, 1, 1 }, ((Conv2d)first[0]).weight.shape);
        Assert.IsTrue(network.modules().OfType<InvertedResidualBlock>().All(b => b.Layers.children().OfType<ReLU>().Count() == 2));
        Assert.IsFalse(network.modules().OfType<ReLU6>().Any());

        // A stride-1 equal-width block computes x + conv(x); a relu6 anywhere would clip the large values of this input.
        using var scope = NewDisposeScope();
        random.manual_seed(23);
        using var block = new InvertedResidualBlock(8, 8, stride: 1, expansion: 6);
        block.eval();
        using var noGrad = no_grad();
        var x = randn(2, 8, 5, 5).mul_(20);
        var expected = x + block.Layers.call(x);
        Assert.IsTrue(block.call(x).allclose(expected, rtol: 1e-5, atol: 1e-4));
        var hidden = ((nn.Module<Tensor, Tensor>)block.Layers[0]).call(x);
        hidden = ((nn.Module<Tensor, Tensor>)block.Layers[2]).call(((nn.Module<Tensor, Tensor>)block.Layers[1]).call(hidden));
        Assert.IsTrue(hidden.max().item<float>() > 6, "ReLU does not clip at 6");
        using var strided = new InvertedResidualBlock(8, 8, stride: 2, expansion: 6);
        Assert.IsFalse(strided.UsesResidual);
    }

    [TestMethod]
    public void ChannelShuffle_InterleavesTheGroups()
    {
        using var scope = NewDisposeScope();
        var x = arange(6, dtype: ScalarType.Float32).view(1, 6, 1, 1).expand(2, 6, 3, 3);
        CollectionAssert.AreEqual(new[] { 0f, 2f, 4f, 1f, 3f, 5f }, ChannelShuffler.Shuffle(x, 3)[1, .., 2, 1].data<float>().ToArray());
        CollectionAssert.AreEqual(new[] { 0f, 3f, 1f, 4f, 2f, 5f }, ChannelShuffler.Shuffle(x, 2)[0, .., 0, 0].data<float>().ToArray());
        Assert.AreSame(x, ChannelShuffler.Shuffle(x, 1));
        Assert.ThrowsExactly<ArgumentException>(() => ChannelShuffler.Shuffle(x, 4));
    }

    [TestMethod]
    public void ShuffleNetV1_StrideTwoUnit_ConcatenatesAnAveragePoolThatCountsThePadding()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(24);
        using var unit = new ShuffleNetV1Unit(6, 12, stride: 2, groups: 3, firstConvolutionGroups: 3);
        unit.eval();
        using var noGrad = no_grad();
        var x = rand(2, 6, 8, 8).add_(0.5);
        var y = unit.call(x);
        CollectionAssert.AreEqual(new long[] { 2, 18, 4, 4 }, y.shape);

        // The last 6 channels are ReLU(AvgPool3x3/2/pad1(x)) with the zero padding in the divisor: the corner output is the
        // sum of the 2x2 corner over 9 (over 4 it would be with count_include_pad=False).
        var pooled = y[.., 12..];
        Assert.IsTrue(pooled.allclose(nn.functional.avg_pool2d(x, 3, 2, 1, count_include_pad: true), rtol: 1e-5, atol: 1e-6));
        var corner = x[0, 0, ..2, ..2].sum().item<float>() / 9;
        Assert.AreEqual(corner, pooled[0, 0, 0, 0].item<float>(), 1e-5);
    }

    [TestMethod]
    public void ShuffleNetV1_FirstUnitAfterTheStem_IsUngrouped_OthersUseThreeGroups()
    {
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create("shufflenetv1", 3, Classes);
        var stages = ((ShuffleNetV1Backbone)network.TappedBackbone).Stages;
        CollectionAssert.AreEqual(new[] { 4, 8, 4 }, stages.Select(s => s.Count).ToArray());

        // Stage 1, unit 0: 24 -> 216 (+24 pooled), mid 54, conv1 ungrouped and no shuffle; unit 1: 240 -> 240, mid 60, 3 groups.
        var first = stages[0][0];
        Assert.AreEqual(1, first.ShuffleGroups);
        CollectionAssert.AreEqual(new long[] { 54, 24, 1, 1 }, first.Reduce.Convolution.weight.shape);
        CollectionAssert.AreEqual(new long[] { 54, 1, 3, 3 }, first.Depthwise.Convolution.weight.shape);
        CollectionAssert.AreEqual(new long[] { 216, 18, 1, 1 }, first.Expand.Convolution.weight.shape);
        Assert.IsNotNull(first.Pool);
        var second = stages[0][1];
        Assert.AreEqual(3, second.ShuffleGroups);
        CollectionAssert.AreEqual(new long[] { 60, 80, 1, 1 }, second.Reduce.Convolution.weight.shape);
        Assert.IsNull(second.Pool);

        // A3: four additive 960 -> 960 units (mid 240), no concatenating unit.
        var a3 = network.AuxiliaryClassifier.named_children().Single(c => c.name == "block_extractor3").module.modules().OfType<ShuffleNetV1Unit>().ToList();
        Assert.AreEqual(4, a3.Count);
        Assert.IsTrue(a3.All(u => u.Pool is null && u.Reduce.Convolution.weight.shape.SequenceEqual(new long[] { 240, 320, 1, 1 })));
    }

    [TestMethod]
    public void ShuffleNetV2_BasicUnit_PassesTheFirstHalfThroughToTheEvenChannels()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(25);
        using var unit = new ShuffleNetV2BasicUnit(8);
        unit.eval();
        using var noGrad = no_grad();
        var x = randn(2, 8, 5, 5);
        var y = unit.call(x);
        CollectionAssert.AreEqual(new long[] { 2, 8, 5, 5 }, y.shape);
        var even = y.index(TensorIndex.Colon, TensorIndex.Slice(0, null, 2));
        var odd = y.index(TensorIndex.Colon, TensorIndex.Slice(1, null, 2));
        Assert.IsTrue(even.eq(x[.., ..4]).all().item<bool>(), "after shuffle(2), input channel j sits at 2j");
        Assert.IsTrue(odd.min().item<float>() >= 0, "the transformed half ends with ReLU");
        Assert.IsFalse(odd.allclose(x[.., 4..].relu()), "the second half is transformed");

        // The stride-1 down unit of A3 keeps the resolution, the backbone's halves it.
        using var down = new ShuffleNetV2DownUnit(8, 8, stride: 1);
        CollectionAssert.AreEqual(new long[] { 2, 8, 5, 5 }, down.call(x).shape);
        using var down2 = new ShuffleNetV2DownUnit(8, 16, stride: 2);
        CollectionAssert.AreEqual(new long[] { 2, 16, 3, 3 }, down2.call(x).shape);
    }

    [TestMethod]
    public void MobileNetV2_HeadsAreNormalPointZeroOne_ConvsKaimingFanOut_InBackboneAndAuxiliary()
    {
        random.manual_seed(26);
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create("mobilenetv2_half_s1", 3, 100);
        foreach (var linear in network.modules().OfType<Linear>())
        {
            Assert.AreEqual(0.01, linear.weight.std().item<float>(), 0.0015);
            Assert.IsTrue(linear.bias!.eq(0).all().item<bool>());
        }

        Assert.AreEqual(5, network.modules().OfType<Linear>().Count());
        AssertKaimingFanOut(network.Backbone);
        AssertKaimingFanOut(network.Auxiliary);
        Assert.IsTrue(network.modules().OfType<BatchNorm2d>().All(n => n.weight.eq(1).all().item<bool>() && n.bias!.eq(0).all().item<bool>()));
    }

    [TestMethod]
    public void ShuffleNets_KeepPyTorchDefaults_ExceptTheShuffleNetV1Auxiliary()
    {
        random.manual_seed(27);
        using var v1 = (BranchedClassifierNetwork)NetworkRegistry.Create("shufflenetv1", 3, 100);
        using var v2 = (BranchedClassifierNetwork)NetworkRegistry.Create("shufflenetv2", 3, 100);
        AssertPyTorchDefaultConvolutions(v1.Backbone);
        AssertPyTorchDefaultConvolutions(v2.Backbone);
        AssertPyTorchDefaultConvolutions(v2.Auxiliary);
        AssertKaimingFanOut(v1.Auxiliary);

        Assert.IsTrue(v1.TappedBackbone.modules().OfType<Linear>().Single().bias!.abs().max().item<float>() > 0);
        Assert.IsTrue(v2.TappedBackbone.modules().OfType<Linear>().Single().bias!.abs().max().item<float>() > 0);
        Assert.IsTrue(v1.AuxiliaryClassifier.Heads.All(h => h.bias!.eq(0).all().item<bool>()));
        Assert.IsTrue(v2.AuxiliaryClassifier.Heads.All(h => h.bias!.abs().max().item<float>() > 0));
    }

    [TestMethod]
    public void StateDict_UsesReferenceNames()
    {
        using var mobile = NetworkRegistry.Create("mobilenetv2_half_s1", 3, Classes);
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.conv1.0.weight", "backbone.conv1.1.running_var", "backbone.blocks.0.0.conv.0.weight", "backbone.blocks.6.0.conv.7.bias",
                "backbone.conv2.0.weight", "backbone.conv2.1.weight", "backbone.classifier.weight",
                "auxiliary.block_extractor1.0.2.conv.3.weight", "auxiliary.block_extractor1.5.0.weight", "auxiliary.block_extractor4.2.1.bias",
                "auxiliary.fc4.weight",
            },
            mobile.state_dict().Keys.ToArray());

        using var v1 = NetworkRegistry.Create("shufflenetv1", 3, Classes);
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.conv1.weight", "backbone.bn1.weight", "backbone.layer1.0.conv1.weight", "backbone.layer3.3.bn3.running_mean",
                "backbone.linear.weight", "auxiliary.block_extractor1.1.3.conv3.weight", "auxiliary.block_extractor3.0.3.bn2.weight",
                "auxiliary.fc3.bias",
            },
            v1.state_dict().Keys.ToArray());

        using var v2 = NetworkRegistry.Create("shufflenetv2", 3, Classes);
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.conv1.weight", "backbone.layer1.0.conv5.weight", "backbone.layer2.7.bn3.bias", "backbone.conv2.weight",
                "backbone.bn2.running_var", "backbone.linear.bias", "auxiliary.block_extractor1.2.weight", "auxiliary.block_extractor1.3.running_mean",
                "auxiliary.block_extractor3.0.0.conv4.weight", "auxiliary.fc1.weight",
            },
            v2.state_dict().Keys.ToArray());
    }

    private static void AssertShapes(NetworkOutput output, int batch, int[] taps, int embedding, int auxCount, string context)
    {
        CollectionAssert.AreEqual(new long[] { batch, Classes }, output.Logits.shape, context);
        CollectionAssert.AreEqual(new long[] { batch, embedding }, output.Embedding.shape, context);
        Assert.AreEqual(auxCount, output.AuxLogits.Count, context);
        Assert.AreEqual(taps.Length / 2, output.Features.Count, context);
        for (var i = 0; i < output.Features.Count; i++)
        {
            CollectionAssert.AreEqual(new long[] { batch, taps[2 * i], taps[2 * i + 1], taps[2 * i + 1] }, output.Features[i].shape, $"{context}: tap {i}");
        }

        foreach (var aux in output.AuxLogits)
        {
            CollectionAssert.AreEqual(new long[] { batch, 4 * Classes }, aux.shape, context);
            Assert.IsTrue(aux.isfinite().all().item<bool>(), context);
        }

        Assert.IsTrue(output.Logits.isfinite().all().item<bool>(), context);
    }

    /// <summary>Every conv with at least 4096 weights has std sqrt(2 / (k*k*C_out)) and mean about 0.</summary>
    private static void AssertKaimingFanOut(nn.Module part)
    {
        var convs = part.modules().OfType<Conv2d>().Where(c => c.weight.numel() >= 4096).ToList();
        Assert.IsNotEmpty(convs);
        foreach (var conv in convs)
        {
            var shape = conv.weight.shape;
            var expected = Math.Sqrt(2.0 / (shape[2] * shape[3] * shape[0]));
            Assert.AreEqual(expected, conv.weight.std().item<float>(), 0.15 * expected, $"conv {string.Join("x", shape)}");
        }
    }

    /// <summary>Every conv with at least 4096 weights has PyTorch's default kaiming_uniform(a = sqrt 5) std 1 / sqrt(3 * fan_in).</summary>
    private static void AssertPyTorchDefaultConvolutions(nn.Module part)
    {
        var convs = part.modules().OfType<Conv2d>().Where(c => c.weight.numel() >= 4096).ToList();
        Assert.IsNotEmpty(convs);
        foreach (var conv in convs)
        {
            var shape = conv.weight.shape;
            var expected = 1 / Math.Sqrt(3.0 * shape[1] * shape[2] * shape[3]);
            Assert.AreEqual(expected, conv.weight.std().item<float>(), 0.15 * expected, $"conv {string.Join("x", shape)}");
        }
    }
}
