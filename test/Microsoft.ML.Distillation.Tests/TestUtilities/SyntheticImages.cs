// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>Seeded random byte images and labels as an engine-ready dataset (no ML.NET), for engine-level tests.</summary>
internal static class SyntheticImages
{
    public static ImageTensorDataset Dataset(int rows, int size, int classes, int seed)
    {
        using var generator = new Generator((ulong)seed);
        var images = randint(0, 256, [rows, 3, size, size], dtype: ScalarType.Byte, generator: generator).DetachFromDisposeScope();
        var labels = randint(0, classes, [rows], dtype: ScalarType.Int64, generator: generator).DetachFromDisposeScope();
        return new ImageTensorDataset(images, labels, new ImageShape(3, size, size), classes,
            [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
    }
}
