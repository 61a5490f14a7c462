// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence.Pretrained;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Networks;

/// <summary>
/// <c>mobilenetv2_imagenet</c>, torchvision's full-width <c>mobilenet_v2</c>: tap and output shapes, parameter counts from the
/// published layer table, torchvision's naming (including the first block without an expansion conv), ReLU6, the dropout before
/// the head, and a 1000-class state dict into a 10-class network. Its logits against real torchvision are checked in
/// <c>TorchvisionCheckpointTests</c>.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ImageNetMobileNetV2Tests
{
    private const string Name = "mobilenetv2_imagenet";
    private const int Classes = 10;

    [TestMethod]
    [DataRow(224, new[] { 56, 28, 14, 7 })]
    [DataRow(32, new[] { 8, 4, 2, 1 })]
    public void Forward_GivesTorchvisionsStridesAtTheFourTaps(int size, int[] tapSizes)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var network = NetworkRegistry.Create(Name, 3, Classes);
        network.eval();
        using var noGrad = no_grad();
        var output = network.forward(randn(1, 3, size, size));

        int[] tapChannels = [24, 32, 96, 320];
        Assert.AreEqual(4, network.AuxiliaryBranchCount);
        CollectionAssert.AreEqual(tapChannels, ((BranchedClassifierNetwork)network).TappedBackbone.TapChannels.ToArray());
        CollectionAssert.AreEqual(new long[] { 1, Classes }, output.Logits.shape);
        CollectionAssert.AreEqual(new long[] { 1, 1280 }, output.Embedding.shape, "the pooled 1x1 conv, not the last tap");
        for (var i = 0; i < 4; i++)
            CollectionAssert.AreEqual(new long[] { 1, tapChannels[i], tapSizes[i], tapSizes[i] }, output.Features[i].shape, $"tap {i + 1} at {size}");
        Assert.HasCount(4, output.AuxLogits);
        foreach (var aux in output.AuxLogits)
            CollectionAssert.AreEqual(new long[] { 1, 4 * Classes }, aux.shape);
    }

    // Expected counts from python3 arithmetic over torchvision's layer table (no torch, not from this code): block(i, o, t) with
    // h = i*t: expansion i*h + BN 2h when t != 1, depthwise 9h + BN 2h, projection h*o + BN 2o; stem 3*32*9 + 64; last conv
    // 320*1280 + 2*1280; head 1280*K + K. Backbone at K = 1000: 3,504,872, torchvision's published mobilenet_v2 size. Branches:
    // groups 2..6 from 24, 3..6 from 32, 5..6 from 96, 5..6 from 320 (group 5's first block reads 320), each + the 1x1 conv to
    // 1280 + BN and a Linear(1280, 4K): 29,026,768 at K = 1000, 8,735,728 at K = 10.
    [TestMethod]
    [DataRow(1000, 3_504_872L, 29_026_768L)]
    [DataRow(10, 2_236_682L, 8_735_728L)]
    public void ParameterCounts_MatchTorchvisionsLayerTable(int classes, long expectedBackbone, long expectedAuxiliary)
    {
        using var network = NetworkRegistry.Create(Name, inputChannels: 3, classCount: classes);
        Assert.AreEqual(expectedBackbone, NetworkRegistry.CountParameters(network.Backbone), "backbone + main head");
        Assert.AreEqual(expectedAuxiliary, NetworkRegistry.CountParameters(network.Auxiliary), "auxiliary branches");
    }

    [TestMethod]
    public void GreyInput_ChangesOnlyTheStem()
    {
        using var rgb = NetworkRegistry.Create(Name, inputChannels: 3, classCount: Classes);
        using var grey = NetworkRegistry.Create(Name, inputChannels: 1, classCount: Classes);
        Assert.AreEqual(2 * 32 * 9, NetworkRegistry.CountParameters(rgb.Backbone) - NetworkRegistry.CountParameters(grey.Backbone));
    }

    [TestMethod]
    public void StateDict_UsesTorchvisionsNames_TheFirstBlockHasNoExpansion()
    {
        using var network = NetworkRegistry.Create(Name, 3, Classes);
        var shapes = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);

        CollectionAssert.AreEqual(new long[] { 32, 3, 3, 3 }, shapes["backbone.features.0.0.weight"]);
        CollectionAssert.AreEqual(new long[] { 32, 1, 3, 3 }, shapes["backbone.features.1.conv.0.0.weight"], "t = 1: depthwise first");
        CollectionAssert.AreEqual(new long[] { 16, 32, 1, 1 }, shapes["backbone.features.1.conv.1.weight"]);
        CollectionAssert.AreEqual(new long[] { 16 }, shapes["backbone.features.1.conv.2.running_var"]);
        Assert.IsFalse(shapes.ContainsKey("backbone.features.1.conv.3.weight"), "the t = 1 block has three parts");
        CollectionAssert.AreEqual(new long[] { 96, 16, 1, 1 }, shapes["backbone.features.2.conv.0.0.weight"], "t = 6: expansion first");
        CollectionAssert.AreEqual(new long[] { 96, 1, 3, 3 }, shapes["backbone.features.2.conv.1.0.weight"]);
        CollectionAssert.AreEqual(new long[] { 24, 96, 1, 1 }, shapes["backbone.features.2.conv.2.weight"]);
        CollectionAssert.AreEqual(new long[] { 24 }, shapes["backbone.features.2.conv.3.bias"]);
        CollectionAssert.AreEqual(new long[] { 1280, 320, 1, 1 }, shapes["backbone.features.18.0.weight"]);
        CollectionAssert.AreEqual(new long[] { Classes, 1280 }, shapes["backbone.classifier.1.weight"]);
        CollectionAssert.AreEqual(new[] { "backbone.classifier.1.weight", "backbone.classifier.1.bias" }, network.HeadTensorNames.ToArray());
    }

    [TestMethod]
    public void Activations_AreReLU6_AndDropoutActsOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(11);
        using var network = NetworkRegistry.Create(Name, 3, Classes);
        var backbone = (ImageNetMobileNetV2Backbone)((BranchedClassifierNetwork)network).TappedBackbone;
        using (no_grad())
        {
            foreach (var module in network.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
                module.bias!.fill_(4.0); // most pre-activations far above 6
        }

        network.eval();
        var input = randn(2, 3, 64, 64);
        Tensor pooled, first, second;
        using (no_grad())
        {
            var output = backbone.ForwardWithTaps(input);
            pooled = output.PooledMap!;
            first = output.Logits;
            second = backbone.ForwardWithTaps(input).Logits;
        }

        Assert.AreEqual(6.0, pooled.max().item<float>(), 1e-6, "the last unit's ReLU6 caps at 6");
        var activations = backbone.modules().Where(m => m is TorchSharp.Modules.ReLU or TorchSharp.Modules.ReLU6).ToList();
        Assert.HasCount(1 + 2 * 16 + 1 + 1, activations, "stem, two in each of the 16 expanding blocks, one in the first block, the last unit");
        Assert.IsTrue(activations.All(m => m is TorchSharp.Modules.ReLU6), "every activation is ReLU6, none a plain ReLU");
        Assert.IsGreaterThanOrEqualTo(0.0f, pooled.min().item<float>());
        Assert.IsTrue(TensorAssert.Same(first, second), "eval: no dropout, the same logits twice");

        network.train();
        Tensor trainFirst, trainSecond;
        using (no_grad())
        {
            trainFirst = backbone.ForwardWithTaps(input).Logits;
            trainSecond = backbone.ForwardWithTaps(input).Logits;
        }

        Assert.IsFalse(TensorAssert.Same(trainFirst, trainSecond), "training: dropout before the head draws a new mask each call");
    }

    /// <summary>
    /// The ONNX file against TorchSharp where ReLU6 matters: every batch norm's bias at 3 drives many activations past 6, so an
    /// export that wrote a plain ReLU (or none) would give other logits.
    /// </summary>
    [TestMethod]
    public void OnnxExport_WithActivationsFarAboveSix_GivesTorchSharpsLogits()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(6);
        using var network = NetworkRegistry.Create(Name, 3, Classes);
        using (no_grad())
        {
            foreach (var norm in network.Backbone.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
                norm.bias!.fill_(3.0);
        }

        network.eval();
        var backbone = ((BranchedClassifierNetwork)network).TappedBackbone;
        var input = randn(2, 3, 64, 64);
        Tensor expected, pooled;
        using (no_grad())
        {
            var output = backbone.ForwardWithTaps(input);
            expected = output.Logits;
            pooled = output.PooledMap;
        }

        double saturated = pooled.eq(6.0f).to_type(ScalarType.Float64).mean().item<double>();
        Assert.IsGreaterThan(0.05, saturated, $"only {saturated:P1} of the last unit's activations at the cap: ReLU6 would not be tested");
        using var stream = new MemoryStream();
        Microsoft.ML.Distillation.Onnx.OnnxExporter.ForNetwork(network, new ImageShape(3, 64, 64)).WriteTo(stream);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(stream.ToArray());
        var onnxInput = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(input.data<float>().ToArray(), [2, 3, 64, 64]);
        using var results = session.Run([Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("input", onnxInput)]);
        float[] actual = [.. results.Single(r => r.Name == "logits").AsEnumerable<float>()];
        float[] wanted = expected.data<float>().ToArray();
        double scale = wanted.Max(Math.Abs), difference = wanted.Zip(actual, (a, b) => (double)Math.Abs(a - b)).Max();
        Assert.IsGreaterThan(0.1, scale, "logits large enough to compare");
        Assert.IsLessThan(1e-4 * scale, difference, $"largest logit difference {difference:E2} (logits up to {scale:F2})");
    }

    [TestMethod]
    public void Backward_ThroughTheInPlaceReLU6_ReachesEveryConvolution()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var network = NetworkRegistry.Create(Name, 3, Classes);
        network.train();
        var output = network.forward(randn(4, 3, 32, 32));
        var loss = output.Logits.square().mean();
        foreach (var aux in output.AuxLogits)
            loss = loss + aux.square().mean();
        loss.backward();

        foreach (var (name, parameter) in network.named_parameters().Where(p => p.name.EndsWith(".weight", StringComparison.Ordinal) && p.parameter.dim() == 4))
        {
            var grad = parameter.grad;
            Assert.IsNotNull(grad, name);
            Assert.IsTrue(grad.isfinite().all().item<bool>(), $"{name}: finite gradient");
            Assert.IsGreaterThan(0.0f, grad.abs().max().item<float>(), $"{name}: the gradient reaches it");
        }
    }

    [TestMethod]
    public void ThousandClassStateDict_IntoTenClasses_KeepsTheBackboneAndReplacesOnlyTheHead()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(2);
        using var source = NetworkRegistry.Create(Name, 3, 1000);
        var file = source.Backbone.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        random.manual_seed(3);
        using var target = NetworkRegistry.Create(Name, 3, Classes);
        var headBefore = target.state_dict()["backbone.classifier.1.weight"].clone();

        var result = PretrainedWeights.Load(target, file, "imagenet.pth");

        Assert.IsTrue(result.HeadReplaced);
        Assert.AreEqual(1000, result.SourceClassCount);
        var loaded = target.state_dict();
        foreach (var (name, tensor) in file)
        {
            if (name.StartsWith("classifier.", StringComparison.Ordinal))
                continue;
            Assert.IsTrue(TensorAssert.Same(tensor, loaded["backbone." + name]), $"'{name}' comes from the file");
        }

        Assert.IsTrue(TensorAssert.Same(headBefore, loaded["backbone.classifier.1.weight"]), "the 10-class head stays as initialised");
        Assert.AreEqual(file.Count - 2, result.LoadedTensorNames.Count, "every tensor but the head's weight and bias");
    }
}
