// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.InteropServices;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class NativeHeapTests
{
    [TestMethod]
    public void Trim_WorksOnLinux_AndIsANoOpElsewhere()
    {
        Assert.AreEqual(OperatingSystem.IsLinux(), NativeHeap.Trim());
    }

    [TestMethod]
    public void FreedMemory_IsKeptOnlyWhenTheUserSetNoMallocVariable()
    {
        static Func<string, string?> Env(params (string Name, string Value)[] set) => name => set.FirstOrDefault(s => s.Name == name).Value;

        Assert.IsTrue(NativeHeap.ShouldKeepFreedMemory(Env()));
        Assert.IsTrue(NativeHeap.ShouldKeepFreedMemory(Env(("MALLOC_ARENA_MAX", "2"))), "an arena count says nothing about thresholds");
        Assert.IsTrue(NativeHeap.ShouldKeepFreedMemory(Env(("GLIBC_TUNABLES", "glibc.cpu.hwcaps=-AVX512F"))), "another tunable");
        Assert.IsFalse(NativeHeap.ShouldKeepFreedMemory(Env(("MALLOC_TRIM_THRESHOLD_", "0"))));
        Assert.IsFalse(NativeHeap.ShouldKeepFreedMemory(Env(("MALLOC_MMAP_THRESHOLD_", ""))), "set but empty is still the user's");
        Assert.IsFalse(NativeHeap.ShouldKeepFreedMemory(Env(("MALLOC_TOP_PAD_", "4096"))));
        Assert.IsFalse(NativeHeap.ShouldKeepFreedMemory(Env(("MALLOC_MMAP_MAX_", "0"))));
        Assert.IsFalse(NativeHeap.ShouldKeepFreedMemory(Env(("GLIBC_TUNABLES", "glibc.cpu.x86_ibt=0:glibc.malloc.trim_threshold=1"))));
    }

    [TestMethod]
    public void AfterKeepFreedMemory_BlocksOfAStepsSize_AreReusedWithoutPageFaults()
    {
        if (!OperatingSystem.IsLinux() || !NativeHeap.ShouldKeepFreedMemory(NativeEnvironment.Get))
            Assert.Inconclusive("glibc's malloc settings are changed on Linux only, and not when the process was started with its own.");
        if (!NativeHeap.KeepFreedMemory())
            Assert.Inconclusive("This C library has no mallopt (not glibc).");

        // A step's activations: a dozen 10 MiB blocks (120 MiB, above glibc's own trim threshold of at most 64 MiB), allocated,
        // written and freed twice, on a test thread (a thread arena, not the main heap). With glibc's defaults the second round
        // faults all its pages in again (30,721 of 30,720, measured through Python's ctypes on an AMD EPYC), with the two thresholds
        // but no top pad half of them (15,361; this test failed so before NativeHeap.TopPad); kept, it reuses the first round's pages.
        const int Blocks = 12, BlockBytes = 10 << 20, Page = 4096;
        long Round()
        {
            long before = MinorFaults();
            var blocks = new IntPtr[Blocks];
            for (int b = 0; b < Blocks; b++)
            {
                blocks[b] = Malloc((nuint)BlockBytes);
                Assert.AreNotEqual(IntPtr.Zero, blocks[b]);
                for (int offset = 0; offset < BlockBytes; offset += Page)
                    Marshal.WriteByte(blocks[b], offset, 1);
            }

            foreach (var block in blocks)
                Free(block);
            return MinorFaults() - before;
        }

        Round();
        long faults = Round();
        long pages = (long)Blocks * BlockBytes / Page;
        Assert.IsTrue(faults < pages / 20, $"the second round faulted {faults} of its {pages} pages in again");
    }

    /// <summary>This thread's minor page faults so far (<c>getrusage(RUSAGE_THREAD)</c>, <c>ru_minflt</c>).</summary>
    private static long MinorFaults()
    {
        const int RusageThread = 1, RusageBytes = 144, MinorFaultsOffset = 64; // two timevals, then ru_maxrss .. ru_minflt as longs
        IntPtr usage = Marshal.AllocHGlobal(RusageBytes);
        try
        {
            Assert.AreEqual(0, GetRusage(RusageThread, usage));
            return Marshal.ReadInt64(usage, MinorFaultsOffset);
        }
        finally
        {
            Marshal.FreeHGlobal(usage);
        }
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, IntPtr usage);

    [DllImport("libc", EntryPoint = "malloc")]
    private static extern IntPtr Malloc(nuint size);

    [DllImport("libc", EntryPoint = "free")]
    private static extern void Free(IntPtr block);

    [TestMethod]
    public void ReleaseMemoryEachStep_DoesNotChangeTheModel()
    {
        float[] Train(bool release)
        {
            var ml = new MLContext(seed: 1);
            var raw = RealImages.Train(ml, 64);
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            var options = new StudentOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 16, Seed = 3, ReleaseMemoryEachStep = release };
            using var model = ml.Distillation.Baseline(options).Fit(data);
            return model.Transform(data).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        }

        CollectionAssert.AreEqual(Train(release: false), Train(release: true), "trimming the heap changes memory, not numbers");
    }
}
