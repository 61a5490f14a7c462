// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.InteropServices;

namespace Microsoft.ML.Distillation.Native;

/// <summary>
/// The C heap that libtorch's CPU allocator draws from. On Linux with glibc, tensor memory freed during a training step stays in
/// malloc's heap; activations of different sizes and lifetimes fragment it, so the heap (and the resident memory) grows from step
/// to step although the live data does not. <see cref="Trim"/> hands every free page back to the operating system.
/// </summary>
/// <remarks>
/// Measured on the build machine (issue 5, docs/benchmarks.md): an HSAKD WRN-40-2 → WRN-16-2 step at batch 64 peaks at 1.6 GiB
/// with a trim before every step and keeps growing past 1.9 GiB without. The price is page faults: the next step touches those
/// pages again. Elsewhere (Windows, macOS, musl) this is a no-op.
/// </remarks>
internal static class NativeHeap
{
    private static bool s_unavailable = !OperatingSystem.IsLinux();

    /// <summary>Returns the heap's free pages to the operating system (glibc <c>malloc_trim(0)</c>); false where that is not available.</summary>
    public static bool Trim()
    {
        if (s_unavailable)
            return false;
        try
        {
            MallocTrim(0);
            return true;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            s_unavailable = true;
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
