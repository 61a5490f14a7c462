// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>Names of test categories that CI selects by (<c>dotnet test --filter TestCategory=...</c>).</summary>
internal static class TestCategories
{
    /// <summary>
    /// Tests whose floats depend on which kernels libtorch, oneDNN and MKL pick for the CPU: recorded numbers, fixed-seed and
    /// resume comparisons, agreement with ONNX Runtime, accuracy after short trainings. CI runs them a second time with the
    /// instruction set restricted to AVX2 (<c>ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2</c>;
    /// docs/reliability.md), so that a test holding on one CPU only fails on the build machine.
    /// </summary>
    public const string CpuSensitive = "CpuSensitive";
}
