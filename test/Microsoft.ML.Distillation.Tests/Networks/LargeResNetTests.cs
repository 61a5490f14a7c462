// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Networks;

/// <summary>
/// The ImageNet-layout ResNets (resnet18, resnet34: 7x7 stride-2 stem + max pooling, basic blocks) and the CIFAR bottleneck
/// ResNet-50 (3x3 stride-1 stem, no pooling): tap shapes, auxiliary outputs, reference parameter counts and state-dict names.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class LargeResNetTests
{
    private const int Classes = 10;

    [TestMethod]
    [DataRow("resnet18", 32, new[] { 64, 128, 256, 512 }, new[] { 8, 4, 2, 1 })]
    [DataRow("resnet18", 224, new[] { 64, 128, 256, 512 }, new[] { 56, 28, 14, 7 })]
    [DataRow("resnet34", 32, new[] { 64, 128, 256, 512 }, new[] { 8, 4, 2, 1 })]
    [DataRow("resnet34", 224, new[] { 64, 128, 256, 512 }, new[] { 56, 28, 14, 7 })]
    [DataRow("resnet50", 32, new[] { 256, 512, 1024, 2048 }, new[] { 32, 16, 8, 4 })]
    [DataRow("resnet50", 224, new[] { 256, 512, 1024, 2048 }, new[] { 224, 112, 56, 28 })]
    [DataRow("resnet50_imagenet", 32, new[] { 256, 512, 1024, 2048 }, new[] { 8, 4, 2, 1 })]
    [DataRow("resnet50_imagenet", 224, new[] { 256, 512, 1024, 2048 }, new[] { 56, 28, 14, 7 })]
    public void Forward_GivesTheReferenceTapShapesAndFourAuxiliaryOutputs(string architecture, int size, int[] tapChannels, int[] tapSizes)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        network.eval();
        using var noGrad = no_grad();
        var output = network.forward(randn(1, 3, size, size));

        var context = $"{architecture} at {size}x{size}";
        Assert.AreEqual(4, network.AuxiliaryBranchCount, context);
        Assert.AreEqual(4, NetworkRegistry.AuxiliaryBranchCount(architecture), context);
        CollectionAssert.AreEqual(tapChannels, ((BranchedClassifierNetwork)network).TappedBackbone.TapChannels.ToArray(), context);
        CollectionAssert.AreEqual(new long[] { 1, Classes }, output.Logits.shape, context);
        CollectionAssert.AreEqual(new long[] { 1, tapChannels[^1] }, output.Embedding.shape, context);
        Assert.HasCount(4, output.Features, context);
        for (var i = 0; i < 4; i++)
        {
            CollectionAssert.AreEqual(new long[] { 1, tapChannels[i], tapSizes[i], tapSizes[i] }, output.Features[i].shape, $"{context}, tap {i + 1}");
        }

        Assert.HasCount(4, output.AuxLogits, context);
        foreach (var aux in output.AuxLogits)
        {
            CollectionAssert.AreEqual(new long[] { 1, 4 * Classes }, aux.shape, context);
            Assert.IsTrue(aux.isfinite().all().item<bool>(), context);
        }

        Assert.IsTrue(output.Logits.isfinite().all().item<bool>(), context);
    }

    // Expected numbers, computed with python3 arithmetic over the reference layer shapes (no torch, not from this code):
    // - resnet18 / resnet34 backbones (3 channels, 1000 classes): torchvision's published 11,689,512 and 21,797,672; the same
    //   arithmetic (7x7 stem 3*64*49 + BN, basic block(i, o, s) = 9io + 9o² + 2 BNs of 2o, projection io + 2o when s != 1 or
    //   i != o; fc 512*1000 + 1000) gives both exactly.
    // - resnet50, CIFAR variant, 100 classes (HSAKD models/resnetv2.py): stem 3*64*9 + BN 128; bottleneck(i, p, s) = ip + 9p² + 4p²
    //   weights + BNs 2(p + p + 4p), projection 4ip + 8p when s != 1 or i != 4p; stages (64, 3, 1), (128, 4, 2), (256, 6, 2),
    //   (512, 3, 2); linear 2048*100 + 100 -> 23,705,252. Cross-check: torchvision resnet50 25,557,032 - 7x7 stem 9,408
    //   + 3x3 stem 1,728 - fc(2048->1000) 2,049,000 + linear(2048->100) 204,900 = 23,705,252.
    // - Auxiliary branches, the same arithmetic over the §2.3 rows (A1 = S(L2..L4), A2 = S(L3, L4), A3 = S(L4), A4 = S(L4, stride 1)
    //   from the final width), plus four Linear(C_last, 4K) heads.
    // - resnet50_imagenet: torchvision's published 25,557,032; its branches are the CIFAR resnet50's with 1000-class heads:
    //   76,976,704 - 4 * (2048*400 + 400) + 4 * (2048*4000 + 4000) = 106,482,304.
    [TestMethod]
    [DataRow("resnet18", 1000, 11_689_512L, 47_555_456L)]
    [DataRow("resnet34", 1000, 21_797_672L, 76_474_240L)]
    [DataRow("resnet50", 100, 23_705_252L, 76_976_704L)]
    [DataRow("resnet50_imagenet", 1000, 25_557_032L, 106_482_304L)]
    public void ParameterCounts_MatchTheReference(string architecture, int classes, long expectedBackbone, long expectedAuxiliary)
    {
        using var network = NetworkRegistry.Create(architecture, inputChannels: 3, classCount: classes);
        Assert.AreEqual(expectedBackbone, NetworkRegistry.CountParameters(network.Backbone), "backbone + main head");
        Assert.AreEqual(expectedAuxiliary, NetworkRegistry.CountParameters(network.Auxiliary), "auxiliary branches");
    }

    [TestMethod]
    public void GreyInput_ChangesOnlyTheStem()
    {
        using var rgb = NetworkRegistry.Create("resnet18", inputChannels: 3, classCount: Classes);
        using var grey = NetworkRegistry.Create("resnet18", inputChannels: 1, classCount: Classes);

        // 7x7 stem to 64 channels: 2 * 64 * 49 fewer weights with one input channel; the branches start at layer1 and do not change.
        Assert.AreEqual(2 * 64 * 49, NetworkRegistry.CountParameters(rgb.Backbone) - NetworkRegistry.CountParameters(grey.Backbone));
        Assert.AreEqual(NetworkRegistry.CountParameters(rgb.Auxiliary), NetworkRegistry.CountParameters(grey.Auxiliary));
    }

    [TestMethod]
    public void StateDict_UsesReferenceNames()
    {
        // torchvision / HSAKD models/resnet_imagenet.py.
        using var resnet18 = NetworkRegistry.Create("resnet18", 3, Classes);
        var keys18 = resnet18.state_dict().Keys.ToHashSet();
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.conv1.weight", "backbone.bn1.running_var", "backbone.layer1.1.conv2.weight", "backbone.layer2.0.downsample.0.weight",
                "backbone.layer4.0.downsample.1.bias", "backbone.fc.weight", "auxiliary.block_extractor1.0.0.downsample.0.weight",
                "auxiliary.block_extractor1.2.1.bn2.weight", "auxiliary.block_extractor4.0.1.conv1.weight", "auxiliary.fc4.bias",
            },
            keys18.ToArray());
        Assert.IsFalse(keys18.Contains("backbone.layer1.0.downsample.0.weight"), "layer1 keeps 64 channels at stride 1");
        Assert.IsFalse(keys18.Contains("auxiliary.block_extractor4.0.0.downsample.0.weight"), "512 -> 512 at stride 1 needs no projection");
        Assert.IsFalse(keys18.Any(k => k.StartsWith("backbone.maxpool", StringComparison.Ordinal)), "max pooling has no state");

        // HSAKD models/resnetv2.py (the CIFAR ResNet-50).
        using var resnet50 = NetworkRegistry.Create("resnet50", 3, Classes);
        var keys50 = resnet50.state_dict().Keys.ToHashSet();
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "backbone.conv1.weight", "backbone.layer1.0.shortcut.0.weight", "backbone.layer1.2.conv3.weight", "backbone.layer3.5.bn3.bias",
                "backbone.layer4.0.shortcut.1.running_mean", "backbone.linear.weight", "auxiliary.block_extractor1.2.2.conv3.weight",
                "auxiliary.block_extractor3.0.0.shortcut.0.weight", "auxiliary.block_extractor4.0.2.bn3.weight", "auxiliary.fc4.weight",
            },
            keys50.ToArray());
        Assert.IsFalse(keys50.Contains("backbone.layer1.1.shortcut.0.weight"), "256 -> 256 at stride 1 needs no projection");
        Assert.IsFalse(keys50.Contains("auxiliary.block_extractor4.0.0.shortcut.0.weight"), "2048 -> 2048 at stride 1 needs no projection");
        CollectionAssert.AreEqual(new long[] { 64, 3, 3, 3 }, resnet50.state_dict()["backbone.conv1.weight"].shape, "3x3 stem");
        CollectionAssert.AreEqual(new long[] { 64, 3, 7, 7 }, resnet18.state_dict()["backbone.conv1.weight"].shape, "7x7 stem");
    }

    [TestMethod]
    public void BottleneckBlock_ComputesThePostActivationResidual_WithTheStrideOnThe3x3()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(6);
        using var block = new ResNetBottleneckBlock(8, 4, stride: 2);
        block.eval();
        using var noGrad = no_grad();
        var children = block.named_children().ToDictionary(c => c.name, c => (nn.Module<Tensor, Tensor>)c.module);
        foreach (var norm in block.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
        {
            norm.weight.uniform_(0.5, 2.0);
            norm.bias!.uniform_(-1.0, 1.0);
        }

        CollectionAssert.AreEqual(new long[] { 1, 1 }, ((TorchSharp.Modules.Conv2d)children["conv1"]).stride);
        CollectionAssert.AreEqual(new long[] { 2, 2 }, ((TorchSharp.Modules.Conv2d)children["conv2"]).stride);

        var x = randn(2, 8, 8, 8);
        var y = nn.functional.relu(children["bn1"].call(children["conv1"].call(x)));
        y = nn.functional.relu(children["bn2"].call(children["conv2"].call(y)));
        y = children["bn3"].call(children["conv3"].call(y));
        var expected = nn.functional.relu(y + children["shortcut"].call(x));

        var actual = block.call(x);
        CollectionAssert.AreEqual(new long[] { 2, 16, 4, 4 }, actual.shape);
        Assert.IsTrue(actual.allclose(expected, rtol: 1e-5, atol: 1e-5));
        Assert.IsFalse(actual.allclose(nn.functional.relu(y), rtol: 1e-3, atol: 1e-3), "the shortcut contributes");
    }
}
