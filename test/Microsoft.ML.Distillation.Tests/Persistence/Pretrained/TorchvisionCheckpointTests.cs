// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence.Pretrained;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Persistence.Pretrained;

/// <summary>
/// Real torchvision checkpoints (random weights, written at test time by eng/make-torchvision-checkpoints.py: too large to commit)
/// load into the zoo's ImageNet ResNets and MobileNetV2 and give torchvision's logits: the layout test checks names and shapes, this one the
/// computation (stem padding, max pooling, where the stride sits). Needs Debian's python3-torchvision; skipped with a message
/// where it is missing.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class TorchvisionCheckpointTests
{
    [TestMethod]
    [DataRow("resnet18", "resnet18")]
    [DataRow("resnet34", "resnet34")]
    [DataRow("resnet50", "resnet50_imagenet")]
    [DataRow("mobilenet_v2", "mobilenetv2_imagenet")]
    public void TorchvisionCheckpoint_GivesTorchvisionsLogits(string torchvision, string zoo)
    {
        string? python = SourceTree.PythonThatCan("import torchvision");
        if (python is null)
            Assert.Inconclusive("python3-torchvision is not installed (apt-get install python3-torchvision): the torchvision check did not run.");
        string folder = Directory.CreateTempSubdirectory("distill-torchvision-").FullName;
        try
        {
            string script = Path.Combine(SourceTree.Root, "eng", "make-torchvision-checkpoints.py");
            using (var process = Process.Start(new ProcessStartInfo(python, [script, folder, torchvision]) { RedirectStandardOutput = true, RedirectStandardError = true })!)
            {
                var stderr = process.StandardError.ReadToEndAsync();
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                Assert.AreEqual(0, process.ExitCode, stderr.Result);
            }
            using var scope = NewDisposeScope();
            var io = PyTorchStateDictReader.Read(Path.Combine(folder, torchvision + "-io.pth"));
            using var network = NetworkRegistry.Create(zoo, 3, 10);

            var result = PretrainedWeights.Load(network, Path.Combine(folder, torchvision + ".pth"));
            network.eval();
            Tensor logits;
            using (no_grad())
                logits = network.ForwardLogits(io["input"]);

            Assert.IsFalse(result.HeadReplaced);
            Assert.AreEqual(network.Backbone.state_dict().Count, result.LoadedTensorNames.Count, "every backbone tensor comes from the file");
            double difference = (logits - io["logits"]).abs().max().item<float>();
            double scale = io["logits"].abs().max().item<float>();
            Assert.IsGreaterThan(0.1, scale, "logits of a size that makes the comparison mean something");
            Assert.IsLessThan(1e-4 * Math.Max(1, scale), difference, $"{zoo}: largest logit difference from torchvision {difference:E2} (logits up to {scale:F2})");
            foreach (var tensor in io.Values)
                tensor.Dispose(); // the reader's tensors belong to the caller, not to this scope
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
