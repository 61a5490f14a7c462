// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace Microsoft.ML.Distillation.Native;

/// <summary>
/// Makes libtorch's OpenMP threads sleep instead of spinning while they wait for work (<c>OMP_WAIT_POLICY=PASSIVE</c>), unless the
/// user chose a wait policy. Applied once, when this assembly is first used, because the OpenMP runtime reads the variable only
/// when libtorch loads.
/// </summary>
/// <remarks>
/// <para>Why: libgomp, the OpenMP runtime bundled with libtorch on Linux, lets idle worker threads spin for a while after every
/// parallel region. On a machine where another process also wants the cores (an ML.NET server, a second training, CI), the spinning
/// threads take CPU time from it and from each other, and every parallel region waits for a thread the kernel has descheduled.
/// Measured on a 2-core AMD EPYC (2026-12-04), one teacher epoch of the sample on 2,000 images: alone 15-19 s whatever the policy
/// (within run-to-run noise); beside one CPU-bound process 32 s with PASSIVE, 49 s with libgomp's default spinning, 39-76 s with
/// shorter spin counts.
/// docs/benchmarks.md has the table and eng/shared-cpu-benchmark.sh reproduces it.</para>
/// <para>What counts as the user's choice: any of <c>OMP_WAIT_POLICY</c>, <c>GOMP_SPINCOUNT</c> (libgomp) or <c>KMP_BLOCKTIME</c>
/// (Intel OpenMP) set in the environment, even empty. Then nothing is changed. A process that loaded libtorch before using this
/// library keeps the policy it loaded with.</para>
/// <para>Linux and macOS only: the variable is set with the C library's <c>setenv</c>, the environment the OpenMP runtime reads (.NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach it on Unix). On Windows, where libtorch uses Intel
/// OpenMP, nothing is changed.</para>
/// </remarks>
internal static class OpenMpWaitPolicy
{
    /// <summary>The variable this class sets.</summary>
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>The value it sets.</summary>
    public const string Passive = "PASSIVE";

    /// <summary>Variables whose presence means the user chose how OpenMP threads wait.</summary>
    public static readonly string[] UserChoices = [Variable, "GOMP_SPINCOUNT", "KMP_BLOCKTIME"];

    /// <summary>True when this process's <see cref="Variable"/> was set by this class.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Whether to set the passive policy, given the environment (null for an unset variable).</summary>
    public static bool ShouldApply(Func<string, string?> environment) => UserChoices.All(name => environment(name) is null);

#pragma warning disable CA2255 // The OpenMP runtime reads the policy once, when libtorch loads: this must run before any TorchSharp call of ours.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Apply()
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
            return;
        try
        {
            if (!ShouldApply(NativeEnvironment.Get))
                return;
            Applied = NativeEnvironment.Set(Variable, Passive, overwrite: false);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // No C library to ask: leave the runtime's default.
        }
    }
}
