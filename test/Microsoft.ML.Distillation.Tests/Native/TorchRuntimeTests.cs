// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Native;
using TorchSharp;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
[DoNotParallelize]
public sealed class TorchRuntimeTests
{
    [TestMethod]
    public void Libtorch_LoadsAndComputes()
    {
        TorchRuntime.EnsureLoaded();

        using var x = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3);
        using var sum = x.sum();

        Assert.AreEqual(15f, sum.item<float>());
    }

    [TestMethod]
    public void Cpu_And_Auto_ResolveToCpu_WithoutCuda()
    {
        if (torch.cuda.is_available())
            Assert.Inconclusive("This machine has CUDA; the CPU-only expectation does not apply.");

        Assert.AreEqual(DeviceType.CPU, TorchRuntime.Resolve(ComputeDevice.Cpu).type);
        Assert.AreEqual(DeviceType.CPU, TorchRuntime.Resolve(ComputeDevice.Auto).type);
    }

    [TestMethod]
    public void Cuda_WhereUnavailable_SaysWhatToInstall()
    {
        if (torch.cuda.is_available())
            Assert.Inconclusive("This machine has CUDA.");

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => TorchRuntime.Resolve(ComputeDevice.Cuda));

        StringAssert.Contains(e.Message, "-p:TorchBackend=cuda");
        StringAssert.Contains(e.Message, "TorchSharp-cuda-linux");
        StringAssert.Contains(e.Message, "Device = Auto");
    }

    [TestMethod]
    public void MLContextGpuSettings_WithoutCuda_FallBackOrStop_AsMLNetDocumentsThem()
    {
        if (torch.cuda.is_available())
            Assert.Inconclusive("This machine has CUDA.");
        var log = new List<string>();

        Assert.AreEqual(DeviceType.CPU, TorchRuntime.Resolve(ComputeDevice.Auto, gpuDeviceId: 0, fallbackToCpu: true, log.Add).type);
        StringAssert.Contains(log.Single(), "MLContext.GpuDeviceId = 0 was requested, but CUDA is not available");
        StringAssert.Contains(log.Single(), "MLContext.FallbackToCpu is true");

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => TorchRuntime.Resolve(ComputeDevice.Auto, gpuDeviceId: 1, fallbackToCpu: false, log.Add));
        StringAssert.Contains(e.Message, "MLContext.GpuDeviceId = 1 was requested");
        StringAssert.Contains(e.Message, "MLContext.FallbackToCpu = true");

        log.Clear();
        Assert.AreEqual(DeviceType.CPU, TorchRuntime.Resolve(ComputeDevice.Cpu, gpuDeviceId: 0, fallbackToCpu: false, log.Add).type, "Device = Cpu wins");
        StringAssert.Contains(log.Single(), "Device = Cpu");
        Assert.AreEqual(DeviceType.CPU, TorchRuntime.Resolve(ComputeDevice.Cuda, gpuDeviceId: null, fallbackToCpu: true, log.Add).type);
    }

    [TestMethod]
    public void AnEstimator_ReadsTheMLContextsGpuSettings_BeforeTraining()
    {
        if (torch.cuda.is_available())
            Assert.Inconclusive("This machine has CUDA.");
        var data = Microsoft.ML.Distillation.Tests.TestUtilities.RealImages.Train(new MLContext(), 32);
        TeacherOptions Options(List<TrainingMetrics> epochs) => new() { Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 1, MetricsCallback = epochs.Add };

        var strict = new MLContext(seed: 1) { GpuDeviceId = 0 };
        var none = new List<TrainingMetrics>();
        var e = Assert.ThrowsExactly<InvalidOperationException>(() =>
            strict.Transforms.Conversion.MapValueToKey("Label").Append(strict.Distillation.Teacher(Options(none))).Fit(data));
        StringAssert.Contains(e.Message, "MLContext.GpuDeviceId = 0");
        Assert.IsEmpty(none, "stopped before the first epoch");

        var lenient = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var warnings = new List<string>();
        lenient.Log += (_, m) => { if (m.Message.Contains("FallbackToCpu", StringComparison.Ordinal)) warnings.Add(m.Message); };
        var epochs = new List<TrainingMetrics>();
        lenient.Transforms.Conversion.MapValueToKey("Label").Append(lenient.Distillation.Teacher(Options(epochs))).Fit(data);
        Assert.HasCount(1, epochs);
        Assert.IsNotEmpty(warnings);
    }
}
