// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>Tensor comparisons for assertions.</summary>
internal static class TensorAssert
{
    /// <summary>Same shape and every element equal (bit-for-bit for floats, NaN aside).</summary>
    public static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
            return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    /// <summary>Finds a column of a schema shape by name (SchemaShape.TryFindColumn is internal in ML.NET 5).</summary>
    public static SchemaShape.Column? Find(SchemaShape shape, string name)
        => shape.Cast<SchemaShape.Column?>().LastOrDefault(c => c!.Value.Name == name);
}
