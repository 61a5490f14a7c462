// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>
/// Small deterministic tensors for hand-computed loss tests: element i of the flattened tensor is ((i·a + b) mod 11 − 5) / 4, the
/// same formula the Python scripts in the tests' comments use.
/// </summary>
internal static class HandValues
{
    public static Tensor Make(long[] shape, int a, int b)
    {
        long count = shape.Aggregate(1L, (x, y) => x * y);
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = (float)(((i * a + b) % 11 - 5) / 4.0);
        return tensor(values).reshape(shape);
    }
}
