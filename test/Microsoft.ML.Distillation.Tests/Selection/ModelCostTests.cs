// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Selection;

[TestClass]
[DoNotParallelize]
public sealed class ModelCostTests
{
    /// <summary>conv 3→4 (3x3, padding 1) on 8x8, global average pool, linear 4→10; an auxiliary linear 4→40 that inference skips.</summary>
    private sealed class TinyNetwork : ClassifierNetwork
    {
        private readonly Sequential _backbone;
        private readonly Linear _auxiliary;
        private readonly Conv2d _conv;
        private readonly Linear _head;

        public TinyNetwork() : base(nameof(TinyNetwork), "tiny", 3, 10, 4)
        {
            _conv = nn.Conv2d(3, 4, 3, padding: 1);
            _head = nn.Linear(4, 10);
            _backbone = nn.Sequential(("conv", _conv), ("head", _head));
            _auxiliary = nn.Linear(4, 40);
            RegisterComponents();
        }

        public override int EmbeddingSize => 4;
        public override int AuxiliaryBranchCount => 1;
        public override nn.Module Backbone => _backbone;
        public override nn.Module Auxiliary => _auxiliary;
        public override IReadOnlyList<string> HeadTensorNames => ["backbone.head.weight", "backbone.head.bias"];

        public override Tensor ForwardLogits(Tensor input) => _head.call(_conv.call(input).mean([2, 3]));

        public override NetworkOutput forward(Tensor input)
        {
            var embedding = _conv.call(input).mean([2, 3]);
            var aux = ComputeAuxiliary ? new[] { _auxiliary.call(embedding) } : [];
            return new NetworkOutput(_head.call(embedding), embedding, [], aux);
        }
    }

    [TestMethod]
    public void Flops_CountTwoPerMultiplyAddOfTheLayersThatRun()
    {
        using var network = new TinyNetwork();

        // conv: 4 filters x (3 x 3 x 3) weights at each of 8 x 8 outputs; head: 10 x 4; the auxiliary linear: 40 x 4.
        double inference = FlopCounter.ForwardFlops(network, 3, 8, includeAuxiliary: false);
        double training = FlopCounter.ForwardFlops(network, 3, 8, includeAuxiliary: true);

        Assert.AreEqual(2.0 * 4 * 27 * 64 + 2.0 * 40, inference);
        Assert.AreEqual(inference + 2.0 * 160, training);
        Assert.AreEqual(2.0 * 4 * 27 * 16 * 32 + 2.0 * 40, FlopCounter.ForwardFlops(network, 3, 16, 32, includeAuxiliary: false), "H x W = 16 x 32");
        Assert.IsTrue(network.training, "the counter leaves the network's mode as it was");
        Assert.IsTrue(network.ComputeAuxiliary);
    }

    [TestMethod]
    public void MeasureCost_ReportsTheModelsParametersFlopsSizesAndALatency()
    {
        var teacher = SharedTeacher.Teacher;

        var cost = teacher.MeasureCost(new CostMeasurementOptions { BatchSize = 4, Repetitions = 3, WarmupRepetitions = 1 });
        var staticOnly = teacher.MeasureCost(new CostMeasurementOptions { MeasureLatency = false });
        var probed = teacher.MeasureCost(new CostMeasurementOptions { BatchSize = 8, LatencyProbe = (m, batch) => batch * 0.5, LatencyProbeName = "fake" });
        using var saved = new MemoryStream();
        teacher.Save(saved);
        using var onnx = new MemoryStream();
        teacher.ExportOnnx(onnx);

        Assert.AreEqual(teacher.InferenceParameterCount, cost.Parameters);
        var shape = teacher.InputShape;
        Assert.AreEqual(FlopCounter.ForwardFlops(teacher.Model.Network, shape.Channels, shape.Height, shape.Width, includeAuxiliary: false), cost.FlopsPerImage);
        Assert.AreEqual(saved.Length, cost.ModelBytes);
        Assert.AreEqual(onnx.Length, cost.OnnxBytes);
        Assert.IsTrue(cost.LatencyMilliseconds > 0 && cost.BatchLatencyMilliseconds > 0, cost.ToString());
        StringAssert.StartsWith(cost.LatencyMeasuredBy, "TorchSharp eval forward");
        Assert.IsNull(staticOnly.LatencyMilliseconds);
        Assert.AreEqual((0.5, 4.0, "fake"), (probed.LatencyMilliseconds!.Value, probed.BatchLatencyMilliseconds!.Value, probed.LatencyMeasuredBy));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => teacher.MeasureCost(new CostMeasurementOptions { BatchSize = 0 }));
    }

    [TestMethod]
    public void MeasureCost_ByOnnxRuntime_TimesASessionOnTheExport_WithTheSameStaticFigures()
    {
        var teacher = SharedTeacher.Teacher;

        var onnx = teacher.MeasureCost(new CostMeasurementOptions { Engine = LatencyEngine.OnnxRuntime, BatchSize = 4, Repetitions = 3, WarmupRepetitions = 1 });
        var staticOnly = teacher.MeasureCost(new CostMeasurementOptions { MeasureLatency = false });

        Assert.AreEqual($"ONNX Runtime, {TorchSharp.torch.get_num_threads()} intra-op threads, CPU", onnx.LatencyMeasuredBy);
        Assert.IsTrue(onnx.LatencyMilliseconds > 0 && onnx.BatchLatencyMilliseconds > 0, onnx.ToString());
        Assert.AreEqual(4, onnx.LatencyBatchSize);
        Assert.AreEqual(staticOnly with { LatencyMilliseconds = onnx.LatencyMilliseconds, BatchLatencyMilliseconds = onnx.BatchLatencyMilliseconds,
            LatencyBatchSize = 4, LatencyMeasuredBy = onnx.LatencyMeasuredBy }, onnx);
    }
}
