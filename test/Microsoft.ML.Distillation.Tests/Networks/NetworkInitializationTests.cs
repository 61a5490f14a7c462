// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Networks;

[TestClass]
[DoNotParallelize]
public sealed class NetworkInitializationTests
{
    [TestMethod]
    [DataRow("resnet20")]
    [DataRow("wrn16_2")]
    [DataRow("vgg13")]
    public void BatchNorms_StartAtGammaOneBetaZero(string architecture)
    {
        using var network = NetworkRegistry.Create(architecture, 3, 10);
        var norms = network.modules().OfType<BatchNorm2d>().ToList();
        Assert.IsTrue(norms.Count > 10);
        foreach (var norm in norms)
        {
            Assert.IsTrue(norm.weight.eq(1).all().item<bool>());
            Assert.IsTrue(norm.bias!.eq(0).all().item<bool>());
        }
    }

    [TestMethod]
    public void WideResNet_LinearBiasesAreZero_InBackboneAndAuxiliary()
    {
        using var network = NetworkRegistry.Create("wrn16_2", 3, 10);
        var linears = network.modules().OfType<Linear>().ToList();
        Assert.AreEqual(4, linears.Count);
        Assert.IsTrue(linears.All(l => l.bias!.eq(0).all().item<bool>()));
    }

    [TestMethod]
    public void ResNet_MainHeadKeepsDefaultInit_WhileAuxBiasesAreZero()
    {
        random.manual_seed(4);
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create("resnet20", 3, 10);
        var fc = network.Backbone.modules().OfType<Linear>().Single();
        Assert.IsTrue(fc.bias!.abs().max().item<float>() > 0, "PyTorch default: uniform bias");
        Assert.IsTrue(network.AuxiliaryClassifier.Heads.All(h => h.bias!.eq(0).all().item<bool>()));
    }

    [TestMethod]
    public void Vgg_BackboneHeadIsNormalPointZeroOne_AuxKeepsDefaults()
    {
        random.manual_seed(5);
        using var network = (BranchedClassifierNetwork)NetworkRegistry.Create("vgg13", 3, 100);
        var classifier = network.Backbone.modules().OfType<Linear>().Single();
        Assert.AreEqual(0.01, classifier.weight.std().item<float>(), 0.0015);
        Assert.IsTrue(classifier.bias!.eq(0).all().item<bool>());

        var backboneConv = network.Backbone.modules().OfType<Conv2d>().First();
        Assert.IsTrue(backboneConv.bias!.eq(0).all().item<bool>());

        // Aux 512 -> 512 3x3 conv with PyTorch's default kaiming_uniform(a = sqrt 5): std = 1/sqrt(3 * fan_in),
        // far from the Kaiming-normal fan_out std sqrt(2 / (9 * 512)).
        var auxConv = network.Auxiliary.modules().OfType<Conv2d>().Last();
        var defaultStd = 1 / Math.Sqrt(3.0 * 512 * 9);
        Assert.AreEqual(defaultStd, auxConv.weight.std().item<float>(), 0.1 * defaultStd);
        Assert.IsTrue(auxConv.bias!.abs().max().item<float>() > 0);
        Assert.IsTrue(network.AuxiliaryClassifier.Heads.All(h => h.bias!.abs().max().item<float>() > 0));
    }

    [TestMethod]
    [DataRow("resnet32x4", true)]
    [DataRow("resnet32x4", false)]
    [DataRow("wrn40_2", true)]
    [DataRow("wrn40_2", false)]
    [DataRow("vgg8", true)]
    public void Convolutions_AreKaimingNormalFanOut(string architecture, bool backbone)
    {
        random.manual_seed(6);
        using var network = NetworkRegistry.Create(architecture, 3, 10);
        var part = backbone ? network.Backbone : network.Auxiliary;
        var convs = part.modules().OfType<Conv2d>().Where(c => c.weight.numel() >= 4096).ToList();
        Assert.IsTrue(convs.Count > 0);
        foreach (var conv in convs)
        {
            var shape = conv.weight.shape;
            var expected = Math.Sqrt(2.0 / (shape[2] * shape[3] * shape[0]));
            var actual = conv.weight.std().item<float>();
            Assert.AreEqual(expected, actual, 0.15 * expected, $"conv {string.Join("x", shape)}");
            Assert.AreEqual(0, conv.weight.mean().item<float>(), 0.15 * expected);
        }
    }
}
