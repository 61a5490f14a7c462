// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Data;

/// <summary>What <see cref="ImageSchemaValidator"/> learned about a valid label column (a key of <see cref="uint"/>).</summary>
/// <param name="Name">The column name.</param>
/// <param name="ClassCount">K: the key count. Raw key values 1..K are the classes 0..K-1; raw 0 is a missing value.</param>
/// <param name="ClassNames">
/// K names: the column's KeyValues annotation as text, or "0".."K-1" when the column has none.
/// </param>
/// <param name="HasKeyNames">True when <paramref name="ClassNames"/> came from the KeyValues annotation.</param>
internal sealed record LabelColumnInfo(string Name, int ClassCount, string[] ClassNames, bool HasKeyNames = false);
