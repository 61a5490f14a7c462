// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Native;

/// <summary>
/// Whether this CPU runs bfloat16 convolutions fast: it has AVX512-BF16 or AMX-BF16 (Linux: the <c>flags</c> of /proc/cpuinfo)
/// and oneDNN is not restricted below them (<c>ONEDNN_MAX_CPU_ISA</c>, as CI sets it to check the AVX2 kernels). Elsewhere bfloat16
/// runs emulated and slower than float32, so it is not used.
/// </summary>
internal static class BFloat16Support
{
    /// <summary>True when bfloat16 compute is fast on this CPU; <paramref name="reason"/> says why not otherwise.</summary>
    public static bool IsFastOnCpu(out string reason)
        => IsFastOnCpu(ReadCpuInfo, Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA"), out reason);

    /// <summary>
    /// Whether an option that asked for bfloat16 (<paramref name="asked"/>, e.g. "Precision = BFloat16Mixed") gets it on
    /// <paramref name="device"/>: always on CUDA, on the CPU where <see cref="IsFastOnCpu(out string)"/> says so; otherwise the channel
    /// is warned "{phase}: {asked} asked for, but {reason}; {fallback} (bfloat16 would be slower than float32 here)." and false returned.
    /// </summary>
    public static bool IsUsedOn(Device device, IChannel channel, string phase, string asked, string fallback)
    {
        if (device.type != DeviceType.CPU || IsFastOnCpu(out string reason))
            return true;
        channel.Warning(MessageSensitivity.None, $"{phase}: {asked} asked for, but {reason}; {fallback} (bfloat16 would be slower than float32 here).");
        return false;
    }

    /// <summary>The same from given inputs, for tests.</summary>
    internal static bool IsFastOnCpu(Func<string?> cpuInfo, string? maxIsa, out string reason)
    {
        if (!string.IsNullOrEmpty(maxIsa) && !maxIsa.Contains("BF16", StringComparison.OrdinalIgnoreCase)
            && !maxIsa.Contains("AMX", StringComparison.OrdinalIgnoreCase) && !maxIsa.Equals("ALL", StringComparison.OrdinalIgnoreCase)
            && !maxIsa.Equals("DEFAULT", StringComparison.OrdinalIgnoreCase))
        {
            reason = $"ONEDNN_MAX_CPU_ISA={maxIsa} keeps oneDNN below its bfloat16 kernels";
            return false;
        }
        string? flags = cpuInfo()?.Split('\n').FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        if (flags is null)
        {
            reason = "the CPU's instruction sets could not be read (only Linux's /proc/cpuinfo is read)";
            return false;
        }
        var set = flags[(flags.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        if (set.Contains("avx512_bf16") || set.Contains("amx_bf16"))
        {
            reason = "";
            return true;
        }
        reason = "this CPU has neither AVX512-BF16 nor AMX-BF16";
        return false;
    }

    private static string? ReadCpuInfo()
    {
        try
        {
            return File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
