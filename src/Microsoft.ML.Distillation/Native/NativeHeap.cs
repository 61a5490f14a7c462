// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.InteropServices;

namespace Microsoft.ML.Distillation.Native;

/// <summary>
/// The C heap that libtorch's CPU allocator draws from (glibc's malloc on Linux). Two things decide how fast a training step is and
/// how much resident memory it keeps: whether the memory a step frees is kept for the next step (<see cref="KeepFreedMemory"/>), and
/// when it is handed back to the operating system (<see cref="Trim"/>).
/// </summary>
/// <remarks>
/// <para>Why keep it: with glibc's defaults, blocks over 128 KiB at first, and later over the largest block freed so far (at most
/// 32 MiB), are mapped fresh from the kernel and unmapped when freed, and free memory at the heap's top beyond twice that threshold is
/// returned at once. A training step allocates and frees hundreds of megabytes of activations, so every step faulted its working
/// set back in page by page. Measured 2026-12-05 on an AMD EPYC (family 26, 2 cores; docs/benchmarks.md): a plain WRN-16-2 step took
/// about 54,000 page faults and ran at 95-117 images/s with a trim before every step (the default then), about 25,000 and 197
/// without the trim, and 2,500-4,000 and 267-338 with the freed memory kept; the HSAKD WRN-40-2 → WRN-16-2 step 11-13, 15 and
/// 15-18 images/s. With it, the same-run PyTorch 1.13 ratio went from about 0.3-0.45 to 1.01 (plain) and 1.10 (HSAKD).</para>
/// <para>What it changes: <c>mallopt(M_MMAP_THRESHOLD, 32 MiB)</c> (blocks up to 32 MiB come from the heap and are reused) and
/// <c>mallopt(M_TRIM_THRESHOLD, 1 GiB)</c> (free memory stays in the heap until <see cref="Trim"/> or 1 GiB of it at the top) and
/// <c>mallopt(M_TOP_PAD, 64 MiB)</c> (see <see cref="TopPad"/>: the same for trainings on other threads than the first), for the
/// whole process, once, when the first training starts. Nothing is changed when the user set any of glibc's malloc variables
/// (<c>MALLOC_MMAP_THRESHOLD_</c>, <c>MALLOC_TRIM_THRESHOLD_</c>, <c>MALLOC_TOP_PAD_</c>, <c>MALLOC_MMAP_MAX_</c>, or a
/// <c>glibc.malloc.</c> tunable in <c>GLIBC_TUNABLES</c>). The engine trims once per epoch, so memory a training freed is back with
/// the operating system at every epoch's end, and before every step when <see cref="TrainingOptions.ReleaseMemoryEachStep"/> is set.
/// Elsewhere (Windows, macOS, musl) both are no-ops.</para>
/// </remarks>
internal static class NativeHeap
{
    /// <summary>Blocks up to this size come from the heap (glibc's largest allowed value, its dynamic threshold's ceiling).</summary>
    public const int MmapThreshold = 32 << 20;

    /// <summary>Free memory at the heap's top beyond this is returned to the operating system without a <see cref="Trim"/>.</summary>
    public const int TrimThreshold = 1 << 30;

    /// <summary>
    /// Free memory kept when a heap shrinks. glibc deletes a thread arena's emptied 64 MiB heap unless this much is to be kept (the
    /// trim threshold does not apply there), so without it a training on any thread but the process's first faulted half its pages
    /// in again every step. It also grows each heap by this much at a time: address space, not resident memory.
    /// </summary>
    public const int TopPad = 64 << 20;

    /// <summary>Variables whose presence means the user tuned glibc's malloc; then <see cref="KeepFreedMemory"/> changes nothing.</summary>
    public static readonly string[] UserChoices = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"];

    private const int MTrimThreshold = -1; // malloc.h
    private const int MTopPad = -2;
    private const int MMmapThreshold = -3;
    private static readonly Lock s_gate = new();
    private static bool? s_keeping;
    private static bool s_unavailable = !OperatingSystem.IsLinux();

    /// <summary>Whether to change malloc's settings, given the environment (null for an unset variable).</summary>
    public static bool ShouldKeepFreedMemory(Func<string, string?> environment) =>
        UserChoices.All(name => environment(name) is null)
        && !(environment("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc.", StringComparison.Ordinal);

    /// <summary>
    /// Keeps the memory a training step frees in the heap for the next step (see the remarks above); once per process, on the first
    /// call. Returns true when this class's settings are in force (set now or before), false where they were not applied: another OS
    /// or C library, or the user's own malloc settings.
    /// </summary>
    public static bool KeepFreedMemory()
    {
        lock (s_gate)
        {
            if (s_keeping is bool done)
                return done;
            s_keeping = false;
            if (s_unavailable)
                return false;
            try
            {
                if (!ShouldKeepFreedMemory(NativeEnvironment.Get))
                    return false;
                // All three together: setting any one turns glibc's dynamic mmap threshold off, and alone that is slower than the defaults.
                s_keeping = MallOpt(MMmapThreshold, MmapThreshold) == 1 & MallOpt(MTrimThreshold, TrimThreshold) == 1 & MallOpt(MTopPad, TopPad) == 1;
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                // Not glibc (mallopt is glibc's): leave the allocator as it is.
            }

            return s_keeping.Value;
        }
    }

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

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int MallOpt(int parameter, int value);
}
