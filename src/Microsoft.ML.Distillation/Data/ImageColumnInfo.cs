// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// What <see cref="ImageSchemaValidator"/> learned about a valid image column: its name, its form, and the image shape when the
/// schema fixes it. It holds no column index, so the same info serves the training data and, later, the data being scored
/// (resolve the column by name in each schema).
/// </summary>
/// <param name="Name">The column name.</param>
/// <param name="Kind">The column's form.</param>
/// <param name="Shape">
/// Channels, height and width of every image, or <see langword="null"/> for an <c>MLImage</c> column of unknown size
/// (LoadImages without ResizeImages): then the first row read fixes the size and every other row must match it.
/// </param>
/// <param name="ShapeSource">
/// Where <paramref name="Shape"/> came from, as messages say it when a row does not match (for example "the column type" or
/// "the trained model"); <see langword="null"/> when <paramref name="Shape"/> is.
/// </param>
internal sealed record ImageColumnInfo(string Name, ImageColumnKind Kind, ImageShape? Shape, string? ShapeSource = null)
{
    /// <summary>Channels of every decoded image: 3 (RGB) for <c>MLImage</c> columns, otherwise from <see cref="Shape"/>.</summary>
    public int Channels => Kind == ImageColumnKind.Image ? 3 : Shape!.Value.Channels;

    /// <summary>
    /// How the pixels are stored once decoded: <see cref="ScalarType.Byte"/> for images and byte vectors,
    /// <see cref="ScalarType.Float32"/> for float vectors (values kept as given).
    /// </summary>
    public ScalarType ElementType => Kind == ImageColumnKind.SingleVector ? ScalarType.Float32 : ScalarType.Byte;
}
