// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Native;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
public sealed class BFloat16SupportTests
{
    private const string Avx512Bf16 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\nbugs\t\t: none\n";
    private const string Avx2Only = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n";
    private const string Amx = "flags\t\t: avx2 avx512f amx_bf16 amx_tile amx_int8\n";

    [TestMethod]
    [DataRow(Avx512Bf16, null, true, "")]
    [DataRow(Amx, null, true, "")]
    [DataRow(Avx2Only, null, false, "neither AVX512-BF16 nor AMX-BF16")]
    [DataRow(Avx512Bf16, "AVX2", false, "ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN below its bfloat16 kernels")]
    [DataRow(Avx512Bf16, "AVX512_CORE", false, "ONEDNN_MAX_CPU_ISA=AVX512_CORE")]
    [DataRow(Avx512Bf16, "AVX512_CORE_BF16", true, "")]
    [DataRow(Amx, "AVX512_CORE_AMX", true, "")]
    [DataRow(Avx512Bf16, "ALL", true, "")]
    [DataRow(null, null, false, "could not be read")]
    public void IsFastOnCpu_ReadsTheFlagsAndOneDnnsLimit(string? cpuInfo, string? maxIsa, bool expected, string reasonPart)
    {
        bool fast = BFloat16Support.IsFastOnCpu(() => cpuInfo, maxIsa, out string reason);

        Assert.AreEqual(expected, fast);
        StringAssert.Contains(reason, reasonPart);
        if (fast)
            Assert.AreEqual("", reason);
    }
}
