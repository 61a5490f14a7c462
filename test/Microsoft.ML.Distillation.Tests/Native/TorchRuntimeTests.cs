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
}
