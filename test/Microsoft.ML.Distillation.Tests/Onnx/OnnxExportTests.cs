// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Onnx;

/// <summary>
/// The ONNX writer against TorchSharp: every architecture of the zoo, eval mode, batch norms with non-trivial statistics and affine
/// parameters (so that folding is exercised), same random inputs through TorchSharp and ONNX Runtime.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class OnnxExportTests
{
    private const int Classes = 10;
    private const float Tolerance = 1e-4f;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// Every registered network but <c>resnet50_imagenet</c>: at 32x32 its layer4 works on 1x1 maps whose randomised batch norms
    /// (statistics of 8 values) give logits differing from ONNX Runtime's by up to 3e-4, so it is compared at its native 224x224 below.
    /// </summary>
    public static IEnumerable<object[]> AllNames => NetworkRegistry.Names.Where(name => name != "resnet50_imagenet").Select(name => new object[] { name });

    [TestMethod]
    [DynamicData(nameof(AllNames))]
    public void ExportedNetwork_MatchesTorchSharp_On3x32x32_AtBatch1And7(string architecture)
        => AssertOnnxMatchesTorch(architecture, channels: 3, size: 32);

    [TestMethod]
    [DataRow("resnet8")]
    [DataRow("resnet20")]
    [DataRow("resnet8x4")]
    [DataRow("wrn16_1")]
    [DataRow("wrn16_2")]
    [DataRow("vgg8")]
    [DataRow("vgg13")]
    [DataRow("resnet18")]
    [DataRow("mobilenetv2_half_s1")]
    [DataRow("mobilenetv2_half")]
    [DataRow("shufflenetv1")]
    [DataRow("shufflenetv2")]
    public void ExportedNetwork_MatchesTorchSharp_On1x28x28_AtBatch1And7(string architecture)
        => AssertOnnxMatchesTorch(architecture, channels: 1, size: 28);

    /// <summary>The ImageNet layouts at their native size: 7x7 stem, max pooling with padding, layer4 at 7x7; MobileNetV2's ReLU6 (written as Relu(x) - Relu(x - 6)).</summary>
    [TestMethod]
    [DataRow("resnet18")]
    [DataRow("resnet50_imagenet")]
    [DataRow("mobilenetv2_imagenet")]
    public void ExportedImageNetNetwork_MatchesTorchSharp_On3x224x224_AtBatch1(string architecture)
        => AssertOnnxMatchesTorch(architecture, channels: 3, size: 224, batches: [1]);

    [TestMethod]
    public void ExportedNetwork_DeclaresTheContract_InputsOutputsOpsetAndNoAuxiliaryWeights()
    {
        random.manual_seed(3);
        using var network = NetworkRegistry.Create("resnet8", 3, Classes);
        byte[] bytes = Export(network, new ImageShape(3, 32, 32));
        using var session = new InferenceSession(bytes);

        Assert.AreEqual("input", session.InputMetadata.Keys.Single());
        CollectionAssert.AreEqual(new[] { -1, 3, 32, 32 }, session.InputMetadata["input"].Dimensions);
        CollectionAssert.AreEquivalent(new[] { "logits", "probabilities" }, session.OutputMetadata.Keys.ToArray());
        CollectionAssert.AreEqual(new[] { -1, Classes }, session.OutputMetadata["probabilities"].Dimensions);
        Assert.AreEqual("resnet8", session.ModelMetadata.CustomMetadataMap["architecture"]);
        Assert.AreEqual("Microsoft.ML.Distillation", session.ModelMetadata.ProducerName);

        // Folded: one float per inference parameter at most (BN parameters disappear into the convolutions), none of the auxiliary branches.
        long backboneParameters = NetworkRegistry.CountParameters(network.Backbone);
        Assert.IsLessThan(backboneParameters * sizeof(float) + 64 * 1024, (long)bytes.Length, "no auxiliary weights in the file");
        Assert.IsGreaterThan(backboneParameters * sizeof(float) * 9 / 10, (long)bytes.Length, "the backbone's weights are in the file");
    }

    [TestMethod]
    public void ProtoWriter_EncodesTheWireFormat()
    {
        using var stream = new MemoryStream();
        var writer = ProtoWriter.Create(stream);
        writer.WriteVarint(300);
        writer.WriteInt64(1, -1);
        writer.WriteString(2, "hé");
        writer.WriteFloat(3, 1f);

        byte[] expected =
        [
            0xAC, 0x02,                                                             // 300 as a varint
            0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,       // field 1, varint, -1 as 64-bit two's complement
            0x12, 0x03, 0x68, 0xC3, 0xA9,                                           // field 2, length-delimited, "hé" in UTF-8
            0x1D, 0x00, 0x00, 0x80, 0x3F,                                           // field 3, fixed32, 1.0f little-endian
        ];
        CollectionAssert.AreEqual(expected, stream.ToArray());
        Assert.AreEqual(expected.Length, writer.Position);
        Assert.AreEqual(1, ProtoWriter.VarintSize(127));
        Assert.AreEqual(2, ProtoWriter.VarintSize(128));
        Assert.AreEqual(10, ProtoWriter.VarintSize(ulong.MaxValue));
    }

    [TestMethod]
    public void TruncatedOnnxFile_IsRejectedWithAnException_NotACrash()
    {
        random.manual_seed(4);
        using var network = NetworkRegistry.Create("resnet8", 1, Classes);
        byte[] bytes = Export(network, new ImageShape(1, 28, 28));

        var error = Assert.ThrowsExactly<OnnxRuntimeException>(() => new InferenceSession(bytes[..(bytes.Length / 2)]).Dispose());
        Assert.IsTrue(error.Message.Contains("protobuf", StringComparison.OrdinalIgnoreCase), error.Message);
    }

    /// <summary>Exports <paramref name="architecture"/> and compares logits and probabilities with TorchSharp at batch 1 and 7 (or <paramref name="batches"/>).</summary>
    private void AssertOnnxMatchesTorch(string architecture, int channels, int size, int[]? batches = null)
    {
        random.manual_seed(11);
        using var network = NetworkRegistry.Create(architecture, channels, Classes);
        RandomizeBatchNorms(network, channels, size);
        var shape = new ImageShape(channels, size, size);
        using var session = new InferenceSession(Export(network, shape), new SessionOptions { IntraOpNumThreads = 1 });

        foreach (int batch in batches ?? [1, 7])
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var input = randn(batch, channels, size, size);
            var logits = network.ForwardLogits(input);
            float[] expectedLogits = logits.data<float>().ToArray();
            float[] expectedProbabilities = nn.functional.softmax(logits, 1).data<float>().ToArray();

            var onnxInput = new DenseTensor<float>(input.data<float>().ToArray(), [batch, channels, size, size]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", onnxInput)]);
            float[] actualLogits = [.. results.Single(r => r.Name == "logits").AsEnumerable<float>()];
            float[] actualProbabilities = [.. results.Single(r => r.Name == "probabilities").AsEnumerable<float>()];

            string context = string.Create(CultureInfo.InvariantCulture, $"{architecture} on {shape}, batch {batch}");
            Assert.HasCount(batch * Classes, actualLogits, context);
            float logitSpread = expectedLogits.Max() - expectedLogits.Min();
            Assert.IsGreaterThan(0.1f, logitSpread, $"{context}: the logits are not degenerate, so the comparison means something");
            float logitDiff = MaxAbsDiff(expectedLogits, actualLogits);
            float probabilityDiff = MaxAbsDiff(expectedProbabilities, actualProbabilities);
            TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{context}: max |logit diff| {logitDiff:E2}, max |probability diff| {probabilityDiff:E2}, logit spread {logitSpread:F2}"));
            Assert.IsLessThan(Tolerance, logitDiff, $"{context}: logits");
            Assert.IsLessThan(Tolerance, probabilityDiff, $"{context}: probabilities");
        }
    }

    /// <summary>
    /// Gives every batch norm of the backbone random affine parameters, then running statistics measured on a random batch
    /// (momentum 1 in train mode), so that eval mode is far from the fresh mean 0 / var 1 / gamma 1 / beta 0 yet activations stay
    /// in a realistic range however deep the network is.
    /// </summary>
    private static void RandomizeBatchNorms(ClassifierNetwork network, int channels, int size)
    {
        var norms = network.Backbone.modules().OfType<BatchNorm2d>().ToList();
        Assert.IsNotEmpty(norms);
        using (no_grad())
        {
            foreach (var norm in norms)
            {
                norm.weight!.uniform_(0.5, 1.5);
                norm.bias!.uniform_(-0.5, 0.5);
                norm.momentum = 1.0;
            }

            network.train();
            using var scope = NewDisposeScope();
            network.ForwardLogits(randn(8, channels, size, size).mul_(1.5).add_(0.3));
        }

        network.eval();
        foreach (var norm in norms)
        {
            norm.momentum = 0.1;
        }

        using var mean = norms[0].running_mean!.abs().mean();
        Assert.IsGreaterThan(1e-3f, mean.item<float>(), "running statistics moved away from the fresh values");
    }

    private static byte[] Export(ClassifierNetwork network, ImageShape shape)
    {
        using var stream = new MemoryStream();
        OnnxExporter.ForNetwork(network, shape).WriteTo(stream);
        return stream.ToArray();
    }

    private static float MaxAbsDiff(float[] expected, float[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }
}
