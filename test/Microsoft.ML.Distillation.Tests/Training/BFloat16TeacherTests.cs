// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Training;

/// <summary>
/// <see cref="StudentOptions.TeacherPrecision"/> = BFloat16: a KD epoch with a bfloat16 copy of the teacher against the same epoch
/// with the float32 teacher. Where bfloat16 is fast (AVX512-BF16 or AMX, oneDNN unrestricted) the loss terms differ, but little;
/// elsewhere (CI's AVX2 pass) the option falls back to float32 with a warning and the run is the float32 run.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class BFloat16TeacherTests
{
    private static (TrainingMetrics Metrics, List<string> Log) KdEpoch(TeacherPrecision precision)
    {
        var (metrics, log, model) = OneEpochKd.Run(o => o.TeacherPrecision = precision);
        model.Dispose();
        return (metrics, log);
    }

    [TestMethod]
    public void BFloat16Teacher_ChangesTheKdTermLittle_OrFallsBackToFloat32WithAWarning()
    {
        var (reference, _) = KdEpoch(TeacherPrecision.Float32);
        var (bf16, log) = KdEpoch(TeacherPrecision.BFloat16);

        if (BFloat16Support.IsFastOnCpu(out string reason))
        {
            double kd = reference.LossTerms["kd"];
            double relative = Math.Abs(bf16.LossTerms["kd"] - kd) / kd;
            Console.WriteLine($"kd term: float32 teacher {kd:R}, bfloat16 teacher {bf16.LossTerms["kd"]:R}, relative difference {relative:E2}");
            Assert.AreNotEqual(kd, bf16.LossTerms["kd"], "the bfloat16 copy really ran");
            Assert.IsLessThan(0.05, relative, "bfloat16 teacher outputs move the epoch's KD term by under 5 %");
            Assert.IsFalse(log.Any(m => m.Contains("TeacherPrecision = BFloat16 asked for", StringComparison.Ordinal)));
        }
        else
        {
            Assert.IsTrue(log.Any(m => m.Contains($"TeacherPrecision = BFloat16 asked for, but {reason}; the teacher runs in float32", StringComparison.Ordinal)),
                "the fallback is logged with its reason");
            foreach (var (term, value) in reference.LossTerms)
                Assert.AreEqual(value, bf16.LossTerms[term], $"{term}: the fallback is the float32 run");
        }
    }

    [TestMethod]
    public void OneDnnLimitedToAvx2_FallsBackToFloat32_WithTheReason()
    {
        using var avx2 = new EnvironmentOverride("ONEDNN_MAX_CPU_ISA", "AVX2");
        var (reference, _) = KdEpoch(TeacherPrecision.Float32);
        var (bf16, log) = KdEpoch(TeacherPrecision.BFloat16);

        Assert.IsTrue(log.Any(m => m.Contains("TeacherPrecision = BFloat16 asked for, but ONEDNN_MAX_CPU_ISA=AVX2 keeps oneDNN below its bfloat16 kernels", StringComparison.Ordinal)));
        foreach (var (term, value) in reference.LossTerms)
            Assert.AreEqual(value, bf16.LossTerms[term], $"{term}: the fallback is the float32 run");
    }
}
