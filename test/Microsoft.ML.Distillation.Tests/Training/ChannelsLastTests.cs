// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Training;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ChannelsLastTests
{
    private const int Classes = 5;

    [TestMethod]
    public void Of_GivesNhwcStridesAndTheSameValues()
    {
        using var scope = NewDisposeScope();
        var t = arange(2 * 3 * 4 * 5, dtype: ScalarType.Float32).reshape(2, 3, 4, 5);
        var nhwc = ChannelsLast.Of(t);
        CollectionAssert.AreEqual(new long[] { 2, 3, 4, 5 }, nhwc.shape);
        // N, C, H, W strides of an NHWC buffer: H*W*C, 1, W*C, C.
        CollectionAssert.AreEqual(new long[] { 60, 1, 15, 3 }, nhwc.stride());
        Assert.IsTrue(nhwc.eq(t).all().item<bool>());
        var flat = t.flatten(1);
        Assert.AreSame(flat, ChannelsLast.Of(flat), "other ranks are returned as they are");
    }

    [TestMethod]
    public void Apply_RelaysTheConvolutionWeightsInPlace_AndDisposalRestoresTheStandardLayout()
    {
        random.manual_seed(3);
        using var network = NetworkRegistry.Create("resnet8", 3, Classes);
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var parameters = network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var convWeights = parameters.Where(p => p.Value.dim() == 4).Select(p => p.Key).ToList();
        Assert.IsGreaterThan(5, convWeights.Count);

        using (ChannelsLast.Apply(network))
        {
            foreach (var name in convWeights)
            {
                var p = network.named_parameters().Single(q => q.name == name).parameter;
                Assert.AreSame(parameters[name], p, $"{name}: the same parameter object (optimisers keep working)");
                if (p.shape[2] * p.shape[3] > 1)
                    Assert.IsFalse(p.is_contiguous(), $"{name} is channels-last"); // a 1x1 kernel is both layouts at once
                Assert.AreEqual(1L, p.stride(1), $"{name}: channels are the densest dimension");
                Assert.IsTrue(p.eq(before[name]).all().item<bool>(), $"{name}: values unchanged");
            }
        }

        foreach (var (name, value) in network.state_dict())
        {
            Assert.IsTrue(value.is_contiguous(), $"{name} is back in the standard layout");
            Assert.IsTrue(value.eq(before[name]).all().item<bool>(), $"{name}: values unchanged");
        }
    }

    /// <summary>
    /// The exactness tests below measure this library's layout handling against libtorch's NCHW path; on a CPU whose channels-last
    /// kernels are themselves wrong (<see cref="ChannelsLast.KernelsAgree"/>) they cannot, and the estimators train in NCHW there
    /// (<see cref="ChannelsLastRequest_OnACpuWithWrongKernels_TrainsInNchw_WithTheReason"/>).
    /// </summary>
    private static void RequireExactChannelsLastKernels()
    {
        if (!ChannelsLast.KernelsAgree(out string reason))
            Assert.Inconclusive(reason);
    }

    [TestMethod]
    public void KernelCheck_FindsAWrongConvolution_OrNone_AtEachThreadCount()
    {
        // The faults depend on the thread count (on a family-26 EPYC the channels-last 1x1 kernel is wrong with 2 threads and exact
        // with 1), so the answer is cached per count: a check made with 1 thread must not answer for 2.
        int before = torch.get_num_threads();
        try
        {
            foreach (int threads in new[] { 1, 2, 1, 2 })
            {
                torch.set_num_threads(threads);
                string? found = ChannelsLast.FindKernelDisagreement();
                Assert.AreEqual(found is null, ChannelsLast.KernelsAgree(out string reason), $"the cached answer for {threads} threads is the check's: {found}");
                // The same layout, thread count and shape; the sizes of the errors may differ between calls (the NCHW fault on that
                // host returns 27-44 % or NaN from call to call).
                Assert.AreEqual(WithoutErrorSizes(found ?? ""), WithoutErrorSizes(reason));
                if (found is not null)
                {
                    StringAssert.StartsWith(found, "libtorch computes ");
                    StringAssert.Contains(found, $"wrongly on this CPU with {threads} threads (");
                    StringAssert.EndsWith(found, "of the largest output of a float64 reference)");
                }
            }
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }

    private static string WithoutErrorSizes(string reason)
        => reason.Contains(": channels-last off by", StringComparison.Ordinal) ? reason[..reason.IndexOf(": channels-last off by", StringComparison.Ordinal)] : reason;

    [TestMethod]
    public void ChannelsLastRequest_OnACpuWithWrongKernels_TrainsInNchw_WithTheReason()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var raw = RealImages.Train(ml, 64);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
        TrainingMetrics Epoch(bool channelsLast)
        {
            var metrics = new List<TrainingMetrics>();
            using var model = ml.Distillation.Baseline(new StudentOptions
            {
                Architecture = "mobilenetv2_half", Epochs = 1, BatchSize = 32, Seed = 3, ChannelsLast = channelsLast, MetricsCallback = metrics.Add,
            }).Fit(data);
            return metrics.Single();
        }

        var nchw = Epoch(false);
        var asked = Epoch(true);
        bool warned = log.Any(m => m.Contains("ChannelsLast asked for, but libtorch computes ", StringComparison.Ordinal));
        if (ChannelsLast.KernelsAgree(out _))
        {
            Assert.IsFalse(warned);
            Assert.AreEqual(nchw.Loss, asked.Loss, 1e-3 * nchw.Loss, "channels-last trains the same network to rounding");
        }
        else
        {
            Assert.IsTrue(warned, "the fallback is logged with its reason");
            Assert.AreEqual(nchw.Loss, asked.Loss, "the fallback is the NCHW run");
        }
    }

    private static ImageTensorDataset Data(int rows, int size) => SyntheticImages.Dataset(rows, size, Classes, seed: 17);

    /// <summary>One fixed-seed HSAKD step (the whole batch); returns its loss terms and how much each parameter moved.</summary>
    private static (TrainingMetrics Metrics, Dictionary<string, Tensor> Update) HsakdStep(
        ClassifierNetwork teacher, string studentArchitecture, bool channelsLast, ImageTensorDataset data)
    {
        random.manual_seed(21);
        using var student = NetworkRegistry.Create(studentArchitecture, 3, Classes);
        var before = student.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var metrics = EngineRuns.Hsakd(student, teacher, data, epochs: 1, batchSize: data.Count, channelsLast: channelsLast);
        foreach (var p in student.parameters())
            Assert.IsTrue(p.is_contiguous(), "the trained student is handed back in the standard layout");
        return (metrics.Single(), student.named_parameters().ToDictionary(p => p.name, p => (p.parameter.detach() - before[p.name]).DetachFromDisposeScope()));
    }

    /// <summary>
    /// Issue 5's equality rule for the channels-last path: a fixed-seed HSAKD step gives the NCHW loss terms within 1e-5 relative.
    /// The parameter updates agree less well than the loss: measured on the build machine, up to about 1e-3 of a tensor's largest
    /// update for the ResNets, where running the NCHW path on 1 instead of 2 threads moves them by at most 2e-4; for MobileNetV2
    /// some batch-norm bias updates differ by more than their own size: those biases have no gradient at all (see
    /// <see cref="MobileNetV2_BiasesOfTheLastBatchNormOfEachBlock_HaveNoGradient_OnlyRoundingNoise"/>), and its depthwise weights'
    /// updates differ by up to 6e-3 of their size, within float32's own error for that network
    /// (<see cref="WholeNetworkGradients_AreAsExactInChannelsLast_AsFloat32Allows"/>), so only its loss is compared here.
    /// <see cref="TrainingOptions.ChannelsLast"/> is still off by default; the ResNet bound here (5e-2) catches a wrong layout
    /// (differences of order 1), not rounding.
    /// </summary>
    [TestMethod]
    [DataRow("wrn16_1", "resnet8", true)]
    [DataRow("vgg8", "mobilenetv2_half", false)]
    public void HsakdStep_IsUnchangedByChannelsLast(string teacherArchitecture, string studentArchitecture, bool compareUpdates)
    {
        RequireExactChannelsLastKernels();
        random.manual_seed(4);
        using var teacher = NetworkRegistry.Create(teacherArchitecture, 3, Classes);
        BatchNormFoldingTests.RandomizeBatchNorms(teacher, seed: 8);
        using var data = Data(rows: 8, size: 32);
        var teacherBefore = teacher.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var (nchw, nchwUpdate) = HsakdStep(teacher, studentArchitecture, channelsLast: false, data);
        var (nhwc, nhwcUpdate) = HsakdStep(teacher, studentArchitecture, channelsLast: true, data);

        foreach (var (term, value) in nchw.LossTerms)
        {
            Assert.IsGreaterThan(0.0, value, $"{term} is a real term");
            Assert.IsLessThanOrEqualTo(1e-5, Math.Abs(nhwc.LossTerms[term] - value) / Math.Abs(value), term);
        }
        int moved = 0;
        foreach (var (name, update) in compareUpdates ? nchwUpdate : [])
        {
            double scale = update.abs().max().item<float>();
            if (scale == 0)
                continue;
            moved++;
            Assert.IsLessThanOrEqualTo(5e-2, (nhwcUpdate[name] - update).abs().max().item<float>() / scale, name);
        }
        if (compareUpdates)
            Assert.IsGreaterThan(10, moved, "the step updated the student");
        foreach (var (name, value) in teacher.state_dict())
        {
            Assert.IsTrue(value.is_contiguous(), $"teacher {name}: the caller's teacher keeps its layout");
            Assert.IsTrue(value.eq(teacherBefore[name]).all().item<bool>(), $"teacher {name}: untouched");
        }
    }

    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// Part of issue 19's channels-last question. The MobileNetV2 batch-norm biases whose NHWC updates differed from NCHW "by more
    /// than their own size" are those of each block's last batch norm (<c>conv.7</c>). Every path from them reaches a train-mode
    /// batch norm through linear layers only (the next block's 1x1 convolution, the residual stream, the final 1x1 convolution, the
    /// auxiliary branches' first convolution), and that batch norm removes any per-channel shift, so their gradient is exactly 0.
    /// What either layout computes for them is rounding noise, more than a million times below the step's largest update, and
    /// comparing the two noises relative to their own size says nothing.
    /// </summary>
    [TestMethod]
    public void MobileNetV2_BiasesOfTheLastBatchNormOfEachBlock_HaveNoGradient_OnlyRoundingNoise()
    {
        random.manual_seed(4);
        using var teacher = NetworkRegistry.Create("vgg8", 3, Classes);
        BatchNormFoldingTests.RandomizeBatchNorms(teacher, seed: 8);
        using var data = Data(rows: 8, size: 32);

        var (_, update) = HsakdStep(teacher, "mobilenetv2_half", channelsLast: false, data);

        double largest = update.Values.Max(u => u.abs().max().item<float>());
        var lastNormBiases = update.Where(kv => kv.Key.EndsWith(".conv.7.bias", StringComparison.Ordinal)).ToList();
        Assert.IsGreaterThan(20, lastNormBiases.Count);
        foreach (var (name, bias) in lastNormBiases)
            Assert.IsLessThan(1e-6 * largest, (double)bias.abs().max().item<float>(), $"{name}: no gradient, so an update of rounding size only");
        var otherBiases = update.Where(kv => kv.Key.EndsWith(".conv.4.bias", StringComparison.Ordinal)).ToList();
        Assert.IsTrue(otherBiases.Any(kv => kv.Value.abs().max().item<float>() > 1e-4 * largest), "biases followed by a ReLU do train");
    }

    /// <summary>
    /// The convolution kernels themselves are not less exact in channels-last: on random data the weight gradient of a dense, a
    /// depthwise and a stem convolution is as close to the float64 result in NHWC as in NCHW (both within 1e-5 of the gradient's
    /// largest entry; measured about 1e-6 to 4e-6). The larger NHWC/NCHW gap of whole steps comes from the network, not a kernel
    /// (<see cref="WholeNetworkGradients_AreAsExactInChannelsLast_AsFloat32Allows"/>).
    /// </summary>
    [TestMethod]
    [DataRow(16, 16, 32, 1)]   // depthwise 3x3, MobileNetV2's
    [DataRow(16, 16, 32, 16)]
    [DataRow(3, 16, 32, 1)]    // the stem
    public void ConvolutionWeightGradient_IsAsExactInChannelsLast_AgainstFloat64(int inChannels, int outChannels, int size, int groups)
    {
        RequireExactChannelsLastKernels();
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        var x = randn(32, inChannels, size, size, dtype: ScalarType.Float64);
        var w = randn(outChannels, inChannels / groups, 3, 3, dtype: ScalarType.Float64) * 0.3;
        var g = randn(32, outChannels, size, size, dtype: ScalarType.Float64);
        Tensor Grad(Tensor input, Tensor weight, Tensor upstream)
        {
            var wp = weight.detach().requires_grad_(true);
            var y = nn.functional.conv2d(input, wp, padding: [1, 1], groups: groups);
            y.backward([upstream]);
            return wp.grad!.to(ScalarType.Float64);
        }
        var reference = Grad(x, w, g);
        var nchw = Grad(x.to(ScalarType.Float32), w.to(ScalarType.Float32), g.to(ScalarType.Float32));
        var nhwc = Grad(ChannelsLast.Of(x.to(ScalarType.Float32)), ChannelsLast.Of(w.to(ScalarType.Float32)), ChannelsLast.Of(g.to(ScalarType.Float32)));
        double scale = reference.abs().max().item<double>();
        double nchwError = (nchw - reference).abs().max().item<double>() / scale;
        double nhwcError = (nhwc - reference).abs().max().item<double>() / scale;
        TestContext.WriteLine($"in {inChannels} out {outChannels} groups {groups}: NCHW error {nchwError:E2}, NHWC error {nhwcError:E2} (of the largest gradient entry)");
        Assert.IsLessThan(1e-5, nchwError);
        Assert.IsLessThan(1e-5, nhwcError);
    }

    /// <summary>
    /// Issue 19's channels-last question, answered for whole networks: one cross-entropy forward and backward of a student (train
    /// mode, batch 16) in float64 as the reference, and in float32 with each layout. Measured on the build machine (AMD EPYC,
    /// 2026-12-04), as the largest error of a parameter's gradient relative to its largest entry: resnet8 NCHW 3.0e-6, NHWC 7.2e-6;
    /// mobilenetv2_half NCHW 4.4e-2, NHWC 1.5e-1 (typically 4e-3 against 1.2e-2). MobileNetV2's float32 gradient is itself that far
    /// from float64 (depthwise convolutions and batch norms over small maps cancel heavily), and the channels-last kernels sum in
    /// another order, 2-3x less exactly: a rounding-sized difference of the same order as float32's own error, not a layout bug (a
    /// wrong layout gives errors of order 1). The bounds allow other CPUs' kernels a margin.
    /// </summary>
    [TestMethod]
    [DataRow("resnet8", 1e-4)]
    [DataRow("mobilenetv2_half", 0.5)]
    public void WholeNetworkGradients_AreAsExactInChannelsLast_AsFloat32Allows(string architecture, double bound)
    {
        RequireExactChannelsLastKernels();
        Dictionary<string, Tensor> Gradients(ScalarType dtype, bool channelsLast)
        {
            random.manual_seed(21);
            using var network = NetworkRegistry.Create(architecture, 3, Classes);
            network.to(dtype);
            network.train();
            random.manual_seed(5);
            var x = randn(16, 3, 32, 32).to(dtype);
            var y = randint(0, Classes, 16);
            using var layout = channelsLast ? ChannelsLast.Apply(network) : null;
            if (channelsLast)
                x = ChannelsLast.Of(x);
            var loss = nn.functional.cross_entropy(network.forward(x).Logits, y);
            loss.backward();
            return network.named_parameters().Where(p => p.parameter.grad is not null)
                .ToDictionary(p => p.name, p => p.parameter.grad!.to(ScalarType.Float64).contiguous().DetachFromDisposeScope());
        }

        var reference = Gradients(ScalarType.Float64, false);
        var nchw = Gradients(ScalarType.Float32, false);
        var nhwc = Gradients(ScalarType.Float32, true);

        double worstNchw = 0, worstNhwc = 0;
        foreach (var (name, g) in reference)
        {
            double scale = g.abs().max().item<double>();
            if (scale < 1e-8)
                continue; // no gradient (see the MobileNetV2 bias test): nothing to compare
            worstNchw = Math.Max(worstNchw, (nchw[name] - g).abs().max().item<double>() / scale);
            worstNhwc = Math.Max(worstNhwc, (nhwc[name] - g).abs().max().item<double>() / scale);
        }
        TestContext.WriteLine($"{architecture}: worst NCHW error {worstNchw:E2}, worst NHWC error {worstNhwc:E2}");
        Assert.IsGreaterThan(0.0, worstNchw, "float32 differs from float64 at all, so the comparison means something");
        Assert.IsLessThan(bound, worstNhwc, "channels-last gradients stay within float32's error range");
        Assert.IsLessThan(10 * worstNchw, worstNhwc, "channels-last is at most 10x less exact than NCHW (measured 2-3x)");
        foreach (var tensor in reference.Values.Concat(nchw.Values).Concat(nhwc.Values))
            tensor.Dispose();
    }
}
