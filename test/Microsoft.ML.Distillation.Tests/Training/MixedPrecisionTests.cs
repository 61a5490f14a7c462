// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Training;

/// <summary>
/// <see cref="TrainingPrecision.BFloat16Mixed"/>: one step through <see cref="MixedPrecisionStudent"/> against the float32 step on the
/// same batch (bfloat16 arithmetic runs on any CPU, only slower without AVX512-BF16 or AMX), and a 1-epoch fit where bfloat16 is fast
/// (elsewhere, as in CI's AVX2 pass, the option falls back to float32 with a warning).
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class MixedPrecisionTests
{
    private const int Classes = 5;

    /// <summary>CE of the batch through the network, then backward; returns the loss and the outputs (float32 either way).</summary>
    private static (double Loss, NetworkOutput Output) Step(Func<Tensor, NetworkOutput> forward, Tensor x, Tensor y)
    {
        var output = forward(x);
        var loss = nn.functional.cross_entropy(output.Logits, y) + output.AuxLogits.Select(a => a.square().mean()).Aggregate(zeros(1), (s, t) => s + t);
        loss.backward();
        return (loss.item<float>(), output);
    }

    [TestMethod]
    [DataRow("resnet8", 32, 16)]
    [DataRow("wrn16_1", 32, 16)]
    [DataRow("vgg8", 32, 16)]
    [DataRow("resnet8x4", 32, 16)]
    public void OneStep_LossAndGradientsNearFloat32_MastersStayFloat32_BatchNormStatisticsReturn(string architecture, int size, int batch)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        network.train();
        using var initial = NetworkRegistry.CopyOf(network); // the weights and batch-norm statistics before the step
        var x = randn(batch, 3, size, size);
        var y = randint(0, Classes, [batch]);
        var (loss32, out32) = Step(network.forward, x, y);
        var gradients32 = network.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        var statistics32 = network.named_buffers().Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal))
            .ToDictionary(b => b.name, b => b.buffer.clone());

        // The same step again from the same weights and statistics, through the bfloat16 copy.
        using (no_grad())
        {
            foreach (var (name, buffer) in network.named_buffers())
                buffer.copy_(initial.named_buffers().Single(b => b.name == name).buffer);
        }
        var before = network.named_buffers().Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal)).ToDictionary(b => b.name, b => b.buffer.clone());
        network.zero_grad();
        using var mixed = MixedPrecisionStudent.Create(network, CPU, channelsLast: false, "test", out string? notUsed)!;
        Assert.IsNull(notUsed);
        mixed.Compute.train();
        var (loss16, out16) = Step(mixed.Forward, x, y);
        mixed.MoveGradientsToMasters();
        mixed.CopyBuffersToMaster();

        Assert.AreEqual(ScalarType.Float32, out16.Logits.dtype, "outputs come back in float32");
        Assert.AreEqual(ScalarType.Float32, out16.Embedding.dtype);
        var modules = mixed.Compute.named_modules().ToList();
        Assert.IsTrue(modules.Where(m => m.module is Conv2d or Linear).SelectMany(m => m.module.parameters()).All(p => p.dtype == ScalarType.BFloat16),
            "the copy's convolutions and linear layers are bfloat16");
        Assert.IsTrue(modules.Where(m => m.module is BatchNorm2d).SelectMany(m => m.module.parameters()).All(p => p.dtype == ScalarType.Float32),
            "the copy's batch norms stay float32");
        foreach (var (name, p) in network.named_parameters())
        {
            Assert.AreEqual(ScalarType.Float32, p.dtype, $"{name}: the master stays float32");
            Assert.AreEqual(ScalarType.Float32, p.grad!.dtype, $"{name}: the master's gradient is float32");
        }
        foreach (var c in mixed.Compute.parameters())
            Assert.IsTrue(c.grad is null || c.grad.abs().max().item<float>() == 0, "the copy's gradients are cleared");

        // bfloat16 keeps 8 bits of mantissa (relative rounding 2^-9 = 2e-3 per value); through the layers the loss moved by at most
        // 3.2e-4 relative in these four families (measured 2026-12-05): 3e-2 leaves room for other kernels.
        double relative = Math.Abs(loss16 - loss32) / Math.Abs(loss32);
        Console.WriteLine($"{architecture}: loss float32 {loss32:R}, bfloat16 mixed {loss16:R}, relative {relative:E2}");
        Assert.IsLessThan(3e-2, relative, $"{architecture}: the bfloat16 loss is within 3e-2 of float32's");
        Assert.AreNotEqual(loss32, loss16, "the bfloat16 copy really ran");

        // The whole gradient points the same way: cosine over all parameters.
        double dot = 0, n32 = 0, n16 = 0;
        foreach (var (name, p) in network.named_parameters())
        {
            var g16 = p.grad!.to(ScalarType.Float64);
            var g32 = gradients32[name].to(ScalarType.Float64);
            dot += (g16 * g32).sum().item<double>();
            n16 += g16.square().sum().item<double>();
            n32 += g32.square().sum().item<double>();
        }
        double cosine = dot / Math.Sqrt(n16 * n32);
        Console.WriteLine($"{architecture}: gradient cosine {cosine:F5}");
        // Measured 0.9888 (wrn16_1) to 0.9995 (resnet8x4), 2026-12-05.
        Assert.IsGreaterThan(0.98, cosine, $"{architecture}: the bfloat16 gradient follows float32's");

        foreach (var (name, mean32) in statistics32)
        {
            var master = network.named_buffers().Single(b => b.name == name).buffer;
            Assert.IsFalse(TensorAssert.Same(master, before[name]), $"{name}: the copy's running statistics came back to the network");
            Assert.IsTrue(master.allclose(mean32, rtol: 0.05, atol: 0.01), $"{name}: running mean near float32's");
        }
    }

    [TestMethod]
    [DataRow("mobilenetv2_half")]
    [DataRow("shufflenetv1")]
    [DataRow("shufflenetv2")]
    public void NetworksWithGroupedConvolutions_TrainInFloat32_WithTheReason(string architecture)
    {
        using var network = NetworkRegistry.Create(architecture, 3, Classes);
        Assert.IsTrue(MixedPrecisionStudent.HasGroupedConvolutions(network));
        Assert.IsNull(MixedPrecisionStudent.Create(network, CPU, channelsLast: false, "Baseline", out string? notUsed));
        StringAssert.StartsWith(notUsed, $"Baseline: Precision = BFloat16Mixed is not used for '{architecture}', whose grouped or depthwise convolutions");
        StringAssert.EndsWith(notUsed, "it trains in float32.");
        using var resnet = NetworkRegistry.Create("resnet8", 3, Classes);
        Assert.IsFalse(MixedPrecisionStudent.HasGroupedConvolutions(resnet));
    }

    [TestMethod]
    public void CopyOf_APeerGroup_IsRefusedWithTheOptionNamed()
    {
        if (!BFloat16Support.IsFastOnCpu(out _))
            return; // the option falls back to float32 before any copy is made (OneDnnLimitedToAvx2 covers the fallback)
        var ml = new MLContext(seed: 1);
        var options = new OnlineOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 3, Precision = TrainingPrecision.BFloat16Mixed };
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        var e = Assert.ThrowsExactly<NotSupportedException>(() => ml.Distillation.Online(options).Fit(data));
        StringAssert.Contains(e.Message, "Precision = BFloat16Mixed");
        StringAssert.Contains(e.Message, "Precision = Float32");
    }

    private static (TrainingMetrics Metrics, List<string> Log, ImageClassifierTransformer Model) KdEpoch(TrainingPrecision precision)
        => OneEpochKd.Run(o => o.Precision = precision);

    [TestMethod]
    public void BFloat16MixedFit_StaysNearFloat32_SavesAFloat32Model_OrFallsBackWithAWarning()
    {
        var (reference, _, model32) = KdEpoch(TrainingPrecision.Float32);
        var (mixed, log, model16) = KdEpoch(TrainingPrecision.BFloat16Mixed);
        using var d32 = model32;
        using var d16 = model16;
        var keyed = SharedTeacher.Pipeline.First().Transform(RealImages.Test(SharedTeacher.Ml, 64));

        if (BFloat16Support.IsFastOnCpu(out string reason))
        {
            foreach (var (term, value) in reference.LossTerms)
            {
                double relative = Math.Abs(mixed.LossTerms[term] - value) / Math.Abs(value);
                Console.WriteLine($"{term}: float32 {value:R}, bfloat16 mixed {mixed.LossTerms[term]:R}, relative {relative:E2}");
                // One epoch of 4 steps: the trajectories part by rounding; measured up to 1.9e-4 relative (2026-12-05).
                Assert.IsLessThan(0.05, relative, $"{term}: the mixed-precision epoch is within 5 % of float32's");
            }
            Assert.IsFalse(log.Any(m => m.Contains("Precision = BFloat16Mixed asked for", StringComparison.Ordinal)));
            Assert.IsTrue(model16.Model.Network.parameters().All(p => p.dtype == ScalarType.Float32), "the fitted student is float32");
            Assert.IsFalse(model16.Model.Network.parameters().Zip(model32.Model.Network.parameters()).All(p => TensorAssert.Same(p.First, p.Second)),
                "the mixed run really ran in bfloat16");

            // Saved and loaded, the student scores exactly as the fitted one (a float32 model like any other).
            string path = Path.Combine(Path.GetTempPath(), $"mixed-{Guid.NewGuid():N}.zip");
            try
            {
                model16.Save(path);
                using var loaded = SharedTeacher.Ml.Distillation.LoadModel(path);
                var fitted = model16.Transform(keyed).GetColumn<float[]>("Score").ToArray();
                var reloaded = loaded.Transform(keyed).GetColumn<float[]>("Score").ToArray();
                for (int i = 0; i < fitted.Length; i++)
                    CollectionAssert.AreEqual(fitted[i], reloaded[i], $"row {i}: the reloaded student scores as the fitted one");
            }
            finally
            {
                File.Delete(path);
            }
        }
        else
        {
            Assert.IsTrue(log.Any(m => m.Contains($"Precision = BFloat16Mixed asked for, but {reason}; training runs in float32", StringComparison.Ordinal)),
                "the fallback is logged with its reason");
            foreach (var (term, value) in reference.LossTerms)
                Assert.AreEqual(value, mixed.LossTerms[term], $"{term}: the fallback is the float32 run");
        }
    }

    [TestMethod]
    public void OneDnnLimitedToAvx2_TrainsInFloat32_WithTheReason()
    {
        using var avx2 = new EnvironmentOverride("ONEDNN_MAX_CPU_ISA", "AVX2");
        var (reference, _, model32) = KdEpoch(TrainingPrecision.Float32);
        var (mixed, log, model16) = KdEpoch(TrainingPrecision.BFloat16Mixed);
        model32.Dispose();
        model16.Dispose();

        Assert.IsTrue(log.Any(m => m.Contains("Precision = BFloat16Mixed asked for, but ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN below its bfloat16 kernels; training runs in float32", StringComparison.Ordinal)));
        foreach (var (term, value) in reference.LossTerms)
            Assert.AreEqual(value, mixed.LossTerms[term], $"{term}: the fallback is the float32 run");
    }

    [TestMethod]
    public void UndefinedPrecision_IsRefusedNamingTheOption()
    {
        var options = new StudentOptions { Architecture = "resnet8", Precision = (TrainingPrecision)7 };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MLContext(seed: 1).Distillation.Baseline(options));
        Assert.AreEqual(nameof(TrainingOptions.Precision), e.ParamName);
    }
}
