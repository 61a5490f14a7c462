// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Networks;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class BatchNormFoldingTests
{
    private const int Classes = 10;

    public static IEnumerable<object[]> AllNames => NetworkRegistry.Names.Select(name => new object[] { name });

    /// <summary>Gives every batch norm of <paramref name="network"/> running statistics and affine parameters far from 0/1.</summary>
    internal static void RandomizeBatchNorms(nn.Module network, int seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var module in network.modules().Prepend(network))
        {
            if (module is not BatchNorm2d norm)
                continue;
            long c = norm.num_features;
            using var scope = NewDisposeScope();
            norm.running_mean!.copy_(randn(c, generator: generator) * 0.3);
            norm.running_var!.copy_(rand(c, generator: generator) * 1.5 + 0.5);
            norm.weight!.copy_(rand(c, generator: generator) + 0.5);
            norm.bias!.copy_(randn(c, generator: generator) * 0.2);
        }
    }

    /// <summary>An eval-mode copy of <paramref name="network"/> with its batch norms folded.</summary>
    private static ClassifierNetwork FoldedCopy(ClassifierNetwork network, out int folded)
    {
        var copy = NetworkRegistry.Create(network.Architecture, network.InputChannels, network.ClassCount, network.RotationCount);
        using (var scope = NewDisposeScope())
            copy.load_state_dict(network.state_dict());
        copy.eval();
        folded = BatchNormFolding.FoldInPlace(copy);
        return copy;
    }

    private static int CountBatchNorms(nn.Module module) => module.modules().OfType<BatchNorm2d>().Count();

    /// <summary>max |a - b| / max(1, max |a|).</summary>
    private static double ScaledError(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        double difference = (a - b).abs().max().item<float>();
        double scale = Math.Max(1.0, a.abs().max().item<float>());
        return difference / scale;
    }

    [TestMethod]
    [DynamicData(nameof(AllNames))]
    public void Folded_GivesTheSameLogitsAndAuxLogits_AsUnfolded(string architecture)
    {
        random.manual_seed(3);
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        RandomizeBatchNorms(network, seed: 5);
        network.eval();
        using var folded = FoldedCopy(network, out int count);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = randn(3, 3, 32, 32);
        var expected = network.forward(input);
        var actual = folded.forward(input);

        Assert.IsGreaterThan(0, count, $"{architecture}: declares foldable pairs");
        Assert.IsLessThanOrEqualTo(1e-5, ScaledError(expected.Logits, actual.Logits), $"{architecture}: logits");
        Assert.IsGreaterThan(1e-3, (expected.Logits - expected.Logits.mean()).abs().max().item<float>(), $"{architecture}: logits are not trivially constant");
        Assert.AreEqual(expected.AuxLogits.Count, actual.AuxLogits.Count);
        for (int i = 0; i < expected.AuxLogits.Count; i++)
            Assert.IsLessThanOrEqualTo(1e-5, ScaledError(expected.AuxLogits[i], actual.AuxLogits[i]), $"{architecture}: aux logits {i}");
    }

    [TestMethod]
    [DataRow("resnet8")]
    [DataRow("resnet32x4")]
    [DataRow("resnet18")]
    [DataRow("resnet50")]
    [DataRow("vgg8")]
    [DataRow("mobilenetv2_half")]
    [DataRow("shufflenetv1")]
    [DataRow("shufflenetv2")]
    public void PostActivationFamilies_FoldEveryBatchNorm(string architecture)
    {
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        using var folded = FoldedCopy(network, out int count);

        Assert.AreEqual(CountBatchNorms(network), count, "every batch norm of these families directly follows a convolution");
        Assert.IsTrue(folded.modules().OfType<BatchNorm2d>().All(BatchNormFolding.IsFolded));
    }

    [TestMethod]
    public void WideResNet_KeepsPreActivationNorms()
    {
        using var network = NetworkRegistry.Create("wrn16_2", 3, Classes);
        using var folded = FoldedCopy(network, out int count);

        // n = 2 blocks per stage: 6 backbone blocks, aux 4 + 2 + 2 blocks; one foldable pair (conv1 -> bn2) per block.
        Assert.AreEqual(14, count);
        Assert.AreEqual(14 * 2 + 1 + 3, CountBatchNorms(network), "bn1 and bn2 per block, the final bn1, one norm per aux branch");
    }

    [TestMethod]
    public void Fold_MatchesTheFormula_ForAConvolutionWithBias()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        var conv = nn.Conv2d(2, 3, kernel_size: 1, bias: true);
        var norm = nn.BatchNorm2d(3);
        RandomizeBatchNorms(norm, seed: 9);

        var (weight, bias) = BatchNormFolding.Fold(conv, norm);

        using var noGrad = no_grad();
        var s = norm.weight!.to_type(ScalarType.Float64) / (norm.running_var!.to_type(ScalarType.Float64) + norm.eps).sqrt();
        var expectedBias = norm.bias!.to_type(ScalarType.Float64) + (conv.bias!.to_type(ScalarType.Float64) - norm.running_mean!.to_type(ScalarType.Float64)) * s;
        Assert.IsTrue(weight.allclose(conv.weight!.to_type(ScalarType.Float64) * s.reshape(-1, 1, 1, 1), rtol: 1e-12, atol: 1e-12));
        Assert.IsTrue(bias.allclose(expectedBias, rtol: 1e-12, atol: 1e-12));
        Assert.AreEqual(ScalarType.Float64, weight.dtype);
    }

    [TestMethod]
    public void FoldedNetwork_RefusesTrainingMode()
    {
        using var network = NetworkRegistry.Create("resnet8", 3, Classes);
        using var folded = FoldedCopy(network, out _);
        folded.train();

        using var scope = NewDisposeScope();
        Assert.ThrowsExactly<InvalidOperationException>(() => folded.forward(randn(2, 3, 32, 32)));
    }

    [TestMethod]
    public void FoldInPlace_IsIdempotent()
    {
        using var network = NetworkRegistry.Create("vgg8", 3, Classes);
        RandomizeBatchNorms(network, seed: 2);
        network.eval();
        using var folded = FoldedCopy(network, out int first);

        Assert.AreEqual(0, BatchNormFolding.FoldInPlace(folded), "folding twice would scale the weights twice");
        Assert.IsGreaterThan(0, first);
    }
}
