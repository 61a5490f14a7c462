// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp.Modules;

namespace Microsoft.ML.Distillation.Tests.Networks;

[TestClass]
[DoNotParallelize]
public sealed class NetworkRegistryTests
{
    private static readonly string[] s_expectedNames =
    [
        "resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet8x4", "resnet32x4",
        "resnet50", "resnet18", "resnet34", "resnet50_imagenet",
        "wrn16_1", "wrn16_2", "wrn40_1", "wrn40_2",
        "vgg8", "vgg11", "vgg13", "vgg16", "vgg19",
        "mobilenetv2_half", "mobilenetv2_half_s1", "mobilenetv2_imagenet", "shufflenetv1", "shufflenetv2",
    ];

    [TestMethod]
    public void Names_AreTheZooSortedOrdinally()
    {
        CollectionAssert.AreEquivalent(s_expectedNames, NetworkRegistry.Names.ToArray());
        CollectionAssert.AreEqual(s_expectedNames.Order(StringComparer.Ordinal).ToArray(), NetworkRegistry.Names.ToArray());
    }

    [TestMethod]
    public void Create_IgnoresCaseAndReportsCanonicalName()
    {
        using var network = NetworkRegistry.Create("ResNet8x4", inputChannels: 3, classCount: 10);
        Assert.AreEqual("resnet8x4", network.Architecture);
        Assert.AreEqual(3, network.InputChannels);
        Assert.AreEqual(10, network.ClassCount);
        Assert.AreEqual(4, network.RotationCount);
    }

    [TestMethod]
    public void Create_UnknownName_ListsValidNames()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => NetworkRegistry.Create("resnet19", 3, 10));
        Assert.AreEqual("architecture", error.ParamName);
        StringAssert.Contains(error.Message, "resnet19");
        foreach (var name in s_expectedNames)
        {
            StringAssert.Contains(error.Message, name);
        }

        StringAssert.Contains(error.Message, "wrn{d}_{k}");
        StringAssert.Contains(error.Message, "6n+4");
    }

    [TestMethod]
    public void Create_CustomWideResNet_IsAcceptedWithItsDepth()
    {
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create("WRN22_1", inputChannels: 3, classCount: 10);
        Assert.AreEqual("wrn22_1", network.Architecture);
        Assert.AreEqual(3, network.AuxiliaryBranchCount);
        CollectionAssert.AreEqual(new[] { 16, 32, 64 }, network.TappedBackbone.TapChannels.ToArray());

        // d = 22 -> n = 3 blocks per stage in the backbone.
        var backboneBlocks = network.Backbone.modules().OfType<WideResNetBlock>().Count();
        Assert.AreEqual(9, backboneBlocks);
        using var padded = NetworkRegistry.Create("wrn010_01", inputChannels: 1, classCount: 2);
        Assert.AreEqual("wrn10_1", padded.Architecture);
        Assert.IsTrue(NetworkRegistry.IsKnown("wrn28_10"));
        Assert.IsTrue(NetworkRegistry.IsKnown("wrn10_1"));
    }

    [TestMethod]
    public void Create_WideResNetWithBadDepthOrWidth_IsRejectedClearly()
    {
        var depthError = Assert.ThrowsExactly<ArgumentException>(() => NetworkRegistry.Create("wrn17_2", 3, 10));
        StringAssert.Contains(depthError.Message, "6n+4");
        StringAssert.Contains(depthError.Message, "17");

        var widthError = Assert.ThrowsExactly<ArgumentException>(() => NetworkRegistry.Create("wrn16_0", 3, 10));
        StringAssert.Contains(widthError.Message, "at least 1");

        Assert.IsFalse(NetworkRegistry.IsKnown("wrn4_1"));
        Assert.IsFalse(NetworkRegistry.IsKnown("wrn16-2"));
        Assert.IsFalse(NetworkRegistry.IsKnown(null));
    }

    [TestMethod]
    public void Create_BadCounts_ThrowNamingTheParameter()
    {
        Assert.AreEqual("inputChannels", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NetworkRegistry.Create("resnet8", 0, 10)).ParamName);
        Assert.AreEqual("classCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NetworkRegistry.Create("resnet8", 3, 1)).ParamName);
        Assert.AreEqual("rotationCount", Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NetworkRegistry.Create("resnet8", 3, 10, 0)).ParamName);
        Assert.ThrowsExactly<ArgumentNullException>(() => NetworkRegistry.Create(null!, 3, 10));
    }

    // Reference numbers: the PyTorch definitions (RepDistiller / HSAKD) at 3x32x32 input, 100 classes, backbone only.
    // The mobile families were derived without the C# code, by python arithmetic over the layer shapes of winycg/HSAKD's
    // models/mobilenetv2.py, ShuffleNetv1.py and ShuffleNetv2.py (conv out*(in/groups)*k*k without bias, BN 2*C, Linear
    // in*out+out; e.g. MobileNetV2's t = 1 block keeps its 16 -> 16 expansion conv). They agree with the published
    // CIFAR-100 sizes (CRD: MobileNetV2 0.81M, ShuffleV1 0.95M, ShuffleV2 1.35M). Both MobileNetV2 variants differ only
    // in the stem stride, so they have the same count.
    [TestMethod]
    [DataRow("wrn16_2", 703_284L)]
    [DataRow("wrn40_2", 2_255_156L)]
    [DataRow("resnet20", 278_324L)]
    [DataRow("resnet56", 861_620L)]
    [DataRow("mobilenetv2_half_s1", 812_836L)]
    [DataRow("mobilenetv2_half", 812_836L)]
    [DataRow("shufflenetv1", 949_258L)]
    [DataRow("shufflenetv2", 1_355_528L)]
    public void BackboneParameterCount_MatchesReference(string architecture, long expected)
    {
        using var network = NetworkRegistry.Create(architecture, inputChannels: 3, classCount: 100);
        Assert.AreEqual(expected, NetworkRegistry.CountParameters(network.Backbone));
        Assert.AreEqual(
            NetworkRegistry.CountParameters(network),
            NetworkRegistry.CountParameters(network.Backbone) + NetworkRegistry.CountParameters(network.Auxiliary));
    }

    [TestMethod]
    public void ParameterCount_FollowsInputChannelsAndClassCount()
    {
        using var rgb = NetworkRegistry.Create("resnet8", inputChannels: 3, classCount: 10);
        using var grey = NetworkRegistry.Create("resnet8", inputChannels: 1, classCount: 10);
        using var more = NetworkRegistry.Create("resnet8", inputChannels: 3, classCount: 20);

        // Stem conv 3x3 to 16 channels: 2 * 16 * 9 fewer weights with one input channel.
        Assert.AreEqual(2 * 16 * 9, NetworkRegistry.CountParameters(rgb.Backbone) - NetworkRegistry.CountParameters(grey.Backbone));

        // Main head Linear(64, K): 65 per class; three aux heads Linear(64, 4K): 3 * 4 * 65 per class.
        Assert.AreEqual(10 * 65, NetworkRegistry.CountParameters(more.Backbone) - NetworkRegistry.CountParameters(rgb.Backbone));
        Assert.AreEqual(3 * 4 * 10 * 65, NetworkRegistry.CountParameters(more.Auxiliary) - NetworkRegistry.CountParameters(rgb.Auxiliary));
    }
}
