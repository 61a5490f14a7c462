// Licensed under the MIT license. See LICENSE in the repository root.

using System.Collections;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence.Pretrained;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Persistence.Pretrained;

/// <summary>
/// PyTorch state dicts into zoo networks. The fixture in TestData/pretrained was written by real PyTorch
/// (eng/make-pretrained-fixture.py, Debian's python3-torch 1.13): a CIFAR ResNet-8 in torchvision's naming, its eval-mode logits
/// for a fixed input, a DataParallel-prefixed training checkpoint (<c>{'net': ...}</c>) and a .safetensors copy.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class PretrainedWeightsTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "pretrained", name);

    private static string TempFile(string extension) => Path.Combine(Path.GetTempPath(), $"pretrained-{Guid.NewGuid():N}{extension}");

    [TestMethod]
    [DataRow("resnet8-checkpoint.pth")]
    [DataRow("resnet8.safetensors")]
    public void PyTorchFile_LoadsIntoResnet8_AndGivesPyTorchsLogits(string file)
    {
        using var scope = NewDisposeScope();
        var io = PyTorchStateDictReader.Read(Fixture("resnet8-io.pth"));
        using var network = NetworkRegistry.Create("resnet8", inputChannels: 3, classCount: 10);

        var result = PretrainedWeights.Load(network, Fixture(file));
        network.eval();
        using var logits = no_grad_call(network, io["input"]);

        Assert.AreEqual(network.Backbone.state_dict().Count, result.LoadedTensorNames.Count, "every backbone tensor, BN statistics included");
        Assert.IsFalse(result.HeadReplaced);
        Assert.IsFalse(result.AuxiliaryLoaded, "a plain network's file has no auxiliary branches: they stay fresh");
        CollectionAssert.AreEqual(new long[] { 4, 10 }, logits.shape);
        double difference = (logits - io["logits"]).abs().max().item<float>();
        Assert.IsLessThan(1e-5, difference, $"largest difference from PyTorch's logits: {difference:E2}");
        Assert.IsGreaterThan(0.5, io["logits"].abs().max().item<float>(), "the fixture's logits are of order 1, so 1e-5 means something");
        foreach (var tensor in io.Values)
            tensor.Dispose();
    }

    private static Tensor no_grad_call(ClassifierNetwork network, Tensor input)
    {
        using var _ = no_grad();
        return network.ForwardLogits(input);
    }

    [TestMethod]
    [DataRow("resnet18", "resnet18")]
    [DataRow("resnet34", "resnet34")]
    [DataRow("resnet50", "resnet50_imagenet")]
    [DataRow("mobilenet_v2", "mobilenetv2_imagenet")]
    public void ImageNetNetworks_HaveTorchvisionsStateDict_NameForName(string torchvision, string zoo)
    {
        using var stream = File.OpenRead(Fixture("torchvision-layouts.json"));
        var layouts = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, System.Text.Json.JsonElement[][]>>(stream)!;
        var expected = layouts[torchvision].Select(e => $"{e[0].GetString()} [{string.Join(", ", e[1].EnumerateArray().Select(d => d.GetInt64()))}]").Order(StringComparer.Ordinal).ToList();
        using var network = NetworkRegistry.Create(zoo, 3, 1000);
        var state = network.state_dict();
        expected = [.. expected.Select(line => CheckpointNames.Resolve(line[..line.IndexOf(' ')], state)["backbone.".Length..] + line[line.IndexOf(' ')..])
            .Order(StringComparer.Ordinal)];

        var actual = network.Backbone.state_dict().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]").Order(StringComparer.Ordinal).ToList();

        CollectionAssert.AreEqual(expected, actual, $"{zoo}: {string.Join("; ", expected.Except(actual).Take(5))} | {string.Join("; ", actual.Except(expected).Take(5))}");
    }

    [TestMethod]
    public void CheckpointNames_FollowTheLayouts()
    {
        Assert.AreEqual("backbone.layer1.0.conv1.weight", CheckpointNames.ToZooName("layer1.0.conv1.weight"), "torchvision / RepDistiller");
        Assert.AreEqual("backbone.fc.bias", CheckpointNames.ToZooName("module.module.fc.bias"), "DataParallel prefixes, even nested");
        Assert.AreEqual("backbone.block1.layer.0.convShortcut.weight", CheckpointNames.ToZooName("backbone.block1.layer.0.convShortcut.weight"), "HSAKD *_aux");
        Assert.AreEqual("auxiliary.block_extractor2.0.0.conv1.weight", CheckpointNames.ToZooName("module.auxiliary_classifier.block_extractor2.0.0.conv1.weight"));
        Assert.AreEqual("auxiliary.fc3.weight", CheckpointNames.ToZooName("auxiliary.fc3.weight"), "this library's own names stay");
    }

    [TestMethod]
    public void MismatchedFile_NamesMissingUnexpectedAndMisshapedTensors_AndChangesNothing()
    {
        var checkpoint = PyTorchStateDictReader.Read(Fixture("resnet8.safetensors"));
        try
        {
            checkpoint.Remove("layer1.0.conv1.weight", out var removed);
            removed!.Dispose();
            checkpoint["extra.weight"] = zeros(3);
            checkpoint["layer2.0.conv2.weight"].Dispose();
            checkpoint["layer2.0.conv2.weight"] = zeros(32, 32, 1, 1);
            using var network = NetworkRegistry.Create("resnet8", 3, 10);
            var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

            var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedWeights.Load(network, checkpoint, "broken.pth"));

            StringAssert.Contains(e.Message, "'broken.pth' do not fit resnet8 (3 input channels, 10 classes)");
            StringAssert.Contains(e.Message, "1 missing from the file: backbone.layer1.0.conv1.weight [16, 16, 3, 3]");
            StringAssert.Contains(e.Message, "1 unexpected (in the file, not in the network): backbone.extra.weight");
            StringAssert.Contains(e.Message, "1 mis-shaped: backbone.layer2.0.conv2.weight: file [32, 32, 1, 1], network [32, 32, 3, 3]");
            foreach (var (name, tensor) in network.state_dict())
                Assert.IsTrue(TensorAssert.Same(tensor, before[name]), $"'{name}' must not change when the file does not fit");
            foreach (var tensor in before.Values)
                tensor.Dispose();
        }
        finally
        {
            foreach (var tensor in checkpoint.Values)
                tensor.Dispose();
        }
    }

    [TestMethod]
    public void WrongArchitecture_IsRefusedWithTheFirstMismatches()
    {
        using var network = NetworkRegistry.Create("wrn16_2", 3, 10);

        var e = Assert.ThrowsExactly<InvalidDataException>(() => PretrainedWeights.Load(network, Fixture("resnet8.safetensors")));

        StringAssert.Contains(e.Message, "do not fit wrn16_2");
        StringAssert.Contains(e.Message, "missing from the file: backbone.block1.layer.0.bn1.weight [16]");
        StringAssert.Contains(e.Message, "48 unexpected (in the file, not in the network): backbone.layer1.0.bn1.bias;");
        StringAssert.Contains(e.Message, "mis-shaped: backbone.bn1.weight: file [16], network [128]");
        StringAssert.Contains(e.Message, "and 51 more", "long lists are cut");
    }

    [TestMethod]
    public void ThousandClassCheckpoint_IntoTenClasses_KeepsTheBackbone_ReplacesOnlyTheHead()
    {
        string path = TempFile(".pth");
        try
        {
            // A 1000-class resnet8 saved as a plain PyTorch state dict (torchvision-style names, no prefix).
            using (var source = NetworkRegistry.Create("resnet8", 3, 1000))
            {
                var plain = new Hashtable();
                foreach (var (name, tensor) in source.Backbone.state_dict())
                    plain[name] = tensor;
                PyTorchPickler.PickleStateDict(path, plain);
            }
            using var network = NetworkRegistry.Create("resnet8", 3, 10);
            var initial = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            var file = PyTorchStateDictReader.Read(path);

            var result = PretrainedWeights.Load(network, path);

            Assert.IsTrue(result.HeadReplaced);
            Assert.AreEqual(1000, result.SourceClassCount);
            CollectionAssert.AreEquivalent(new[] { "backbone.fc.weight", "backbone.fc.bias" }, network.HeadTensorNames.ToArray());
            foreach (var (name, tensor) in network.state_dict())
            {
                if (name.StartsWith("auxiliary.", StringComparison.Ordinal) || network.HeadTensorNames.Contains(name))
                    Assert.IsTrue(TensorAssert.Same(tensor, initial[name]), $"'{name}' keeps its fresh initialisation");
                else
                    Assert.IsTrue(TensorAssert.Same(tensor, file[name["backbone.".Length..]].reshape(tensor.shape)), $"backbone tensor '{name}' comes from the file");
            }
            Assert.AreEqual(network.Backbone.state_dict().Count - 2, result.LoadedTensorNames.Count, "all but the head's weight and bias");
            StringAssert.Contains(result.Describe(path, network), "main head replaced (1000 classes in the file, 10 here)");
            foreach (var tensor in initial.Values.Concat(file.Values))
                tensor.Dispose();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void HsakdLayout_WithAuxiliaryClassifier_LoadsBackboneAndBranches()
    {
        using var source = NetworkRegistry.Create("resnet8", 3, 10);
        var checkpoint = source.state_dict().ToDictionary(
            kv => "module." + (kv.Key.StartsWith("auxiliary.", StringComparison.Ordinal) ? "auxiliary_classifier." + kv.Key["auxiliary.".Length..] : kv.Key),
            kv => kv.Value);
        using var network = NetworkRegistry.Create("resnet8", 3, 10);

        var result = PretrainedWeights.Load(network, checkpoint, "hsakd.pth");

        Assert.IsTrue(result.AuxiliaryLoaded);
        Assert.IsFalse(result.HeadReplaced);
        var expected = source.state_dict();
        foreach (var (name, tensor) in network.state_dict())
            Assert.IsTrue(TensorAssert.Same(tensor, expected[name]), $"'{name}' comes from the HSAKD-style file");
    }

    [TestMethod]
    public void EveryZooNetwork_NamesItsHead_AsTheLinearFromEmbeddingToClasses()
    {
        foreach (string architecture in NetworkRegistry.Names)
        {
            using var network = NetworkRegistry.Create(architecture, 3, 7);
            var state = network.state_dict();
            var names = network.HeadTensorNames;
            Assert.HasCount(2, names, architecture);
            CollectionAssert.AreEqual(new long[] { 7, network.EmbeddingSize }, state[names.Single(n => n.EndsWith(".weight", StringComparison.Ordinal))].shape, architecture);
            CollectionAssert.AreEqual(new long[] { 7 }, state[names.Single(n => n.EndsWith(".bias", StringComparison.Ordinal))].shape, architecture);
        }
    }

    [TestMethod]
    public void UnreadableFiles_AreRefusedWithTheReason()
    {
        string legacy = TempFile(".pt");
        string text = TempFile(".onnx");
        try
        {
            File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]); // the magic number of a pre-1.6 torch.save
            File.WriteAllText(text, "not weights");

            var old = Assert.ThrowsExactly<InvalidDataException>(() => PyTorchStateDictReader.Read(legacy));
            var unknown = Assert.ThrowsExactly<InvalidDataException>(() => PyTorchStateDictReader.Read(text));
            var absent = Assert.ThrowsExactly<FileNotFoundException>(() => PyTorchStateDictReader.Read(TempFile(".pth")));

            StringAssert.Contains(old.Message, "legacy (pre-1.6, non-zip) format");
            StringAssert.Contains(unknown.Message, "unknown file type '.onnx'");
            StringAssert.Contains(unknown.Message, ".safetensors");
            StringAssert.Contains(absent.Message, "Pretrained weights: no file at");
        }
        finally
        {
            File.Delete(legacy);
            File.Delete(text);
        }
    }

    [TestMethod]
    public void CheckpointWithoutStateDict_ListsItsTopLevelKeys()
    {
        string path = TempFile(".pth");
        try
        {
            using var a = ones(2);
            var inner = new Hashtable { ["weights"] = a };
            PyTorchPickler.PickleStateDict(path, new Hashtable { ["ema"] = inner });

            var e = Assert.ThrowsExactly<InvalidDataException>(() => PyTorchStateDictReader.Read(path));

            StringAssert.Contains(e.Message, "found no state dict. The file's top-level keys are 'ema'");
            StringAssert.Contains(e.Message, "'state_dict', 'model_state_dict', 'model', 'net', 'module'");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
