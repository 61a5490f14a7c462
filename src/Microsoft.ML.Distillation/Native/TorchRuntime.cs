// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Native;

/// <summary>Makes sure libtorch is loaded (with a clear error when it is not) and turns a <see cref="ComputeDevice"/> into a torch device.</summary>
internal static class TorchRuntime
{
    private static readonly object s_lock = new();
    private static bool s_loaded;

    /// <summary>Loads the native backend once; throws <see cref="InvalidOperationException"/> saying what was tried and what to do.</summary>
    public static void EnsureLoaded()
    {
        if (s_loaded)
            return;
        lock (s_lock)
        {
            if (s_loaded)
                return;
            try
            {
                using var probe = torch.zeros(1);
                s_loaded = true;
            }
            catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException)
            {
                throw new InvalidOperationException(DescribeLoadFailure(e), e);
            }
        }
    }

    /// <summary>Resolves the requested device, failing clearly when CUDA is asked for but cannot be had.</summary>
    public static Device Resolve(ComputeDevice requested) => Resolve(requested, gpuDeviceId: null, fallbackToCpu: false, log: null);

    /// <summary>
    /// Resolves the requested device together with ML.NET's own GPU settings (<c>MLContext.GpuDeviceId</c>, <c>MLContext.FallbackToCpu</c>),
    /// as <see cref="ComputeDevice"/>'s documentation states: <see cref="ComputeDevice.Cpu"/> always wins; a GPU id selects that CUDA
    /// device for <see cref="ComputeDevice.Auto"/> and <see cref="ComputeDevice.Cuda"/>; when CUDA cannot be had for an id or for
    /// <see cref="ComputeDevice.Cuda"/>, FallbackToCpu chooses between the CPU (with <paramref name="log"/> told why) and an error.
    /// </summary>
    public static Device Resolve(ComputeDevice requested, int? gpuDeviceId, bool fallbackToCpu, Action<string>? log)
    {
        EnsureLoaded();
        if (requested == ComputeDevice.Cpu)
        {
            if (gpuDeviceId is int ignored)
                log?.Invoke($"Device = Cpu: training on the CPU although MLContext.GpuDeviceId is {ignored}.");
            return CPU;
        }

        bool wantsGpu = requested == ComputeDevice.Cuda || gpuDeviceId is not null;
        if (!wantsGpu)
            return CudaAvailable() ? CUDA : CPU;

        int index = gpuDeviceId ?? 0;
        string? problem = !CudaAvailable()
            ? "CUDA is not available to TorchSharp in this process"
            : index >= torch.cuda.device_count()
                ? $"this machine has {torch.cuda.device_count()} CUDA device(s), so there is no device {index}"
                : null;
        if (problem is null)
            return new Device(DeviceType.CUDA, index);

        string asked = gpuDeviceId is int id ? $"MLContext.GpuDeviceId = {id}" : "Device = Cuda";
        if (fallbackToCpu)
        {
            log?.Invoke($"{asked} was requested, but {problem}; training on the CPU because MLContext.FallbackToCpu is true.");
            return CPU;
        }

        throw new InvalidOperationException(
            $"{asked} was requested, but {problem}. To train on the CPU instead, set MLContext.FallbackToCpu = true, or use Device = Auto " +
            "(without a GpuDeviceId) or Device = Cpu. " +
            "This build references the CPU libtorch package; to train on a GPU: build with -p:TorchBackend=cuda " +
            "(which references TorchSharp-cuda-linux, libtorch 2.10 with CUDA 12.8; your NuGet feed must serve it), " +
            "install an NVIDIA driver that supports CUDA 12.8, and check that 'nvidia-smi' sees the GPU.");
    }

    private static bool CudaAvailable()
    {
        try
        {
            return torch.cuda.is_available();
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string DescribeLoadFailure(Exception e)
    {
        string detail = e.InnerException?.Message ?? e.Message;
        string firstLine = detail.Split('\n')[0].Trim();
        string advice = detail.Contains("GLIBCXX", StringComparison.Ordinal)
            ? "The system libstdc++ is older than TorchSharp's native library expects. Microsoft.ML.Distillation's build step " +
              "patches libLibTorchSharp.so in the output folder for this case: rebuild (dotnet build / dotnet publish) so it runs, " +
              "and check the build log for 'marked GLIBCXX_3.4.32 weak'. Alternatively install libstdc++ from GCC 13 or newer."
            : "The application must reference a native libtorch package, which Microsoft.ML.Distillation leaves to it: libtorch-cpu-linux-x64, " +
              "libtorch-cpu-win-x64 or libtorch-cpu-osx-arm64 2.10.0 (or TorchSharp-cpu for every OS, or TorchSharp-cuda-linux / TorchSharp-cuda-windows " +
              "for CUDA). If it does, check that the output folder holds runtimes/<rid>/native/libLibTorchSharp and the libtorch files for this OS and architecture.";
        return "libtorch could not be loaded, so Microsoft.ML.Distillation cannot train or score. Tried: TorchSharp's native loader " +
               $"(libLibTorchSharp and torch_cpu next to TorchSharp.dll, then the NuGet cache). It said: {firstLine} {advice}";
    }
}
