// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Checks the image and label columns before any row is read, and says what is wrong in terms of the column and of the
/// ML.NET transform that would fix it.
/// </summary>
/// <remarks>
/// <para>Every schema problem is an <see cref="ArgumentException"/> whose <see cref="ArgumentException.ParamName"/> is the
/// caller's parameter (<c>data</c> by default for a <see cref="DataViewSchema"/>, <c>inputSchema</c> for a
/// <see cref="SchemaShape"/>) and whose message names the column, its role (image or label) and what was expected.
/// Problems that only the rows can reveal (size changes, missing keys, no rows) are reported later, while reading, as
/// <see cref="InvalidOperationException"/>s; see <see cref="ImageRowReader"/> and <see cref="ImageDatasetReader"/>.</para>
/// <para>Accepted image columns:</para>
/// <list type="bullet">
/// <item><c>MLImage</c> (<see cref="ImageDataViewType"/>) from LoadImages or ResizeImages; decoded to 3-channel RGB. When the
/// type carries no size (LoadImages alone) every row is checked against the first.</item>
/// <item>A known-size vector of <see cref="float"/> or <see cref="byte"/> with dimensions [C, H, W] (ExtractPixels output).</item>
/// <item>A flat known-size vector of <see cref="float"/> or <see cref="byte"/> with the shape given by the caller.</item>
/// </list>
/// <para>The label must be a scalar key of <see cref="uint"/> (MapValueToKey output) with at least 2 values.</para>
/// </remarks>
internal static class ImageSchemaValidator
{
    /// <summary>Names of the options through which a user gives the shape of a flat pixel vector, as messages quote them.</summary>
    internal const string ShapeOptionNames = "ImageChannels, ImageHeight and ImageWidth";

    private const string KeyValuesAnnotation = "KeyValues";

    private const string DefaultShapeSource = "the options " + ShapeOptionNames;

    private const string TypeShapeSource = "the column type";

    /// <summary>Checks the image column of a schema and tells how its rows are to be decoded.</summary>
    /// <param name="schema">The schema of the data.</param>
    /// <param name="columnName">The image column.</param>
    /// <param name="shapeHint">
    /// The image shape from the options (ImageChannels, ImageHeight, ImageWidth), or <see langword="null"/> when not given.
    /// Needed for flat vectors; when given for other columns it must agree with them.
    /// </param>
    /// <param name="paramName">The parameter named by the exception.</param>
    /// <param name="shapeSource">
    /// Where <paramref name="shapeHint"/> came from, as messages should say it; by default the options
    /// ImageChannels, ImageHeight and ImageWidth. A scoring transformer passes its trained shape with, for example, "the trained model".
    /// </param>
    /// <returns>
    /// The column info. Its <see cref="ImageColumnInfo.Shape"/> is <paramref name="shapeHint"/> for an <c>MLImage</c> column of
    /// unknown size when a hint is given, so every row is then checked against the hint.
    /// </returns>
    /// <exception cref="ArgumentException">The column is missing, of a type that is not accepted, or of a shape that is not known or does not agree with <paramref name="shapeHint"/>.</exception>
    public static ImageColumnInfo ValidateImageColumn(
        DataViewSchema schema, string columnName, ImageShape? shapeHint = null, string paramName = "data", string? shapeSource = null)
    {
        shapeSource ??= DefaultShapeSource;
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(columnName);
        CheckHint(shapeHint, shapeSource);

        DataViewSchema.Column column = schema.GetColumnOrNull(columnName)
            ?? throw MissingColumn("Image", columnName, schema.Where(c => !c.IsHidden).Select(c => c.Name), paramName);
        DataViewType type = column.Type;

        if (type is ImageDataViewType imageType)
        {
            ImageShape? imageShape = ImageShapeOf(columnName, imageType.Height, imageType.Width, shapeHint, shapeSource, paramName);
            string? source = imageShape is null ? null : shapeHint is null ? TypeShapeSource : shapeSource;
            return new ImageColumnInfo(columnName, ImageColumnKind.Image, imageShape, source);
        }

        if (type is VectorDataViewType vectorType && IsPixelItemType(vectorType.ItemType))
        {
            ImageColumnKind kind = vectorType.ItemType == NumberDataViewType.Byte ? ImageColumnKind.ByteVector : ImageColumnKind.SingleVector;
            if (!vectorType.IsKnownSize)
            {
                throw new ArgumentException(
                    $"Image column '{columnName}' has type {Describe(type)}, a vector of variable size; expected a known-size vector of C*H*W pixels. "
                    + "Resize the images (mlContext.Transforms.ResizeImages) before ExtractPixels, or give the column a fixed size.",
                    paramName);
            }

            return new ImageColumnInfo(columnName, kind, VectorShape(columnName, vectorType, shapeHint, shapeSource, paramName), TypeShapeSource);
        }

        throw WrongImageType(columnName, Describe(type), paramName);
    }

    /// <summary>
    /// Checks the image column of a schema shape (for <c>GetOutputSchema</c>): presence, an accepted type, fixed size, and an
    /// <c>MLImage</c> size against <paramref name="shapeHint"/>. Vector dimensions are not part of a <see cref="SchemaShape"/>;
    /// <see cref="ValidateImageColumn(DataViewSchema, string, ImageShape?, string, string?)"/> checks them once the data is at hand.
    /// </summary>
    /// <exception cref="ArgumentException">See <see cref="ValidateImageColumn(DataViewSchema, string, ImageShape?, string, string?)"/>.</exception>
    public static void CheckImageColumn(
        SchemaShape inputSchema, string columnName, ImageShape? shapeHint = null, string paramName = "inputSchema", string? shapeSource = null)
    {
        shapeSource ??= DefaultShapeSource;
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(columnName);
        CheckHint(shapeHint, shapeSource);

        if (!TryFindColumn(inputSchema, columnName, out SchemaShape.Column column))
        {
            throw MissingColumn("Image", columnName, inputSchema.Select(c => c.Name), paramName);
        }

        if (column.Kind == SchemaShape.Column.VectorKind.Scalar && column.ItemType is ImageDataViewType imageType)
        {
            _ = ImageShapeOf(columnName, imageType.Height, imageType.Width, shapeHint, shapeSource, paramName);
            return;
        }

        if (column.Kind != SchemaShape.Column.VectorKind.Scalar && !column.IsKey && IsPixelItemType(column.ItemType))
        {
            if (column.Kind == SchemaShape.Column.VectorKind.VariableVector)
            {
                throw new ArgumentException(
                    $"Image column '{columnName}' has type {Describe(column)}, a vector of variable size; expected a known-size vector of C*H*W pixels. "
                    + "Resize the images (mlContext.Transforms.ResizeImages) before ExtractPixels, or give the column a fixed size.",
                    paramName);
            }

            return;
        }

        throw WrongImageType(columnName, Describe(column), paramName);
    }

    /// <summary>Checks the label column of a schema and reads its class count and names.</summary>
    /// <param name="schema">The schema of the data.</param>
    /// <param name="columnName">The label column.</param>
    /// <param name="paramName">The parameter named by the exception.</param>
    /// <exception cref="ArgumentException">The column is missing, not a key of <see cref="uint"/>, or has fewer than 2 key values.</exception>
    public static LabelColumnInfo ValidateLabelColumn(DataViewSchema schema, string columnName, string paramName = "data")
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(columnName);

        DataViewSchema.Column column = schema.GetColumnOrNull(columnName)
            ?? throw MissingColumn("Label", columnName, schema.Where(c => !c.IsHidden).Select(c => c.Name), paramName);

        if (column.Type is not KeyDataViewType keyType)
        {
            throw NotAKey(columnName, Describe(column.Type), paramName);
        }

        if (keyType.RawType != typeof(uint))
        {
            throw NotUInt32Key(columnName, Describe(column.Type), paramName);
        }

        int classCount = CheckClassCount(columnName, keyType.Count, paramName);
        string[]? names = ReadClassNames(column, classCount);
        return names is null
            ? new LabelColumnInfo(columnName, classCount, Enumerable.Range(0, classCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray())
            : new LabelColumnInfo(columnName, classCount, names, HasKeyNames: true);
    }

    /// <summary>
    /// Checks the label column of a schema shape (for <c>GetOutputSchema</c>): presence, a scalar key of <see cref="uint"/>, and
    /// the key count when the shape carries it.
    /// </summary>
    /// <exception cref="ArgumentException">See <see cref="ValidateLabelColumn(DataViewSchema, string, string)"/>.</exception>
    public static void CheckLabelColumn(SchemaShape inputSchema, string columnName, string paramName = "inputSchema")
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentNullException.ThrowIfNull(columnName);

        if (!TryFindColumn(inputSchema, columnName, out SchemaShape.Column column))
        {
            throw MissingColumn("Label", columnName, inputSchema.Select(c => c.Name), paramName);
        }

        if (!column.IsKey || column.Kind != SchemaShape.Column.VectorKind.Scalar)
        {
            throw NotAKey(columnName, Describe(column), paramName);
        }

        // A shape made from a real schema carries the key's raw type; one promised by an estimator may carry the KeyDataViewType.
        if (column.ItemType is KeyDataViewType keyType)
        {
            if (keyType.RawType != typeof(uint))
            {
                throw NotUInt32Key(columnName, Describe(column), paramName);
            }

            _ = CheckClassCount(columnName, keyType.Count, paramName);
        }
        else if (column.ItemType.RawType != typeof(uint))
        {
            throw NotUInt32Key(columnName, Describe(column), paramName);
        }
    }

    /// <summary>A type as messages show it, e.g. <c>Vector&lt;Single, 3, 32, 32&gt;</c>.</summary>
    internal static string Describe(DataViewType type) => type switch
    {
        VectorDataViewType v when v.Dimensions.Length > 0 && v.IsKnownSize => $"Vector<{Describe(v.ItemType)}, {string.Join(", ", v.Dimensions)}>",
        VectorDataViewType v => $"Vector<{Describe(v.ItemType)}> (variable size)",
        KeyDataViewType k => $"Key<{k.RawType.Name}, {k.Count} values>",
        ImageDataViewType i when i.Height > 0 && i.Width > 0 => $"Image<{i.Height}, {i.Width}>",
        ImageDataViewType => "Image (any size)",
        _ => type.ToString() ?? type.GetType().Name,
    };

    private static string Describe(SchemaShape.Column column)
    {
        string item = column.ItemType is KeyDataViewType or ImageDataViewType ? Describe(column.ItemType)
            : column.IsKey ? $"Key<{column.ItemType.RawType.Name}>"
            : Describe(column.ItemType);
        return column.Kind switch
        {
            SchemaShape.Column.VectorKind.Vector => $"Vector<{item}>",
            SchemaShape.Column.VectorKind.VariableVector => $"Vector<{item}> (variable size)",
            _ => item,
        };
    }

    /// <summary>The last column of that name (the visible one), as <c>SchemaShape.TryFindColumn</c> would find it; that method is internal.</summary>
    private static bool TryFindColumn(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            if (shape[i].Name == name)
            {
                column = shape[i];
                return true;
            }
        }

        column = default;
        return false;
    }

    private static bool IsPixelItemType(DataViewType itemType) => itemType == NumberDataViewType.Single || itemType == NumberDataViewType.Byte;

    private static void CheckHint(ImageShape? shapeHint, string shapeSource)
    {
        if (shapeHint is { } hint && (hint.Channels <= 0 || hint.Height <= 0 || hint.Width <= 0))
        {
            throw new ArgumentOutOfRangeException(
                nameof(shapeHint), hint, $"The image shape from {shapeSource} must have channels, height and width all positive; got {hint}.");
        }
    }

    private static ImageShape? ImageShapeOf(string columnName, int height, int width, ImageShape? shapeHint, string shapeSource, string paramName)
    {
        bool known = height > 0 && width > 0;
        if (shapeHint is not { } hint)
        {
            return known ? new ImageShape(3, height, width) : null;
        }

        if (hint.Channels != 3)
        {
            throw new ArgumentException(
                $"Image column '{columnName}' holds images, which are decoded to 3 channels (RGB), but the shape from {shapeSource} is {hint} ({hint.Channels} channels).",
                paramName);
        }

        if (known && (hint.Height != height || hint.Width != width))
        {
            throw new ArgumentException(
                $"Image column '{columnName}' holds {height}x{width} images (height x width), but the shape from {shapeSource} is {hint}.",
                paramName);
        }

        return hint;
    }

    private static ImageShape VectorShape(string columnName, VectorDataViewType vectorType, ImageShape? shapeHint, string shapeSource, string paramName)
    {
        int size = vectorType.Size;
        var dims = vectorType.Dimensions;
        if (dims.Length == 3)
        {
            var fromDims = new ImageShape(dims[0], dims[1], dims[2]);
            if (dims[0] > 4 && dims[2] is 1 or 3 or 4)
            {
                throw new ArgumentException(
                    $"Image column '{columnName}' has dimensions [{string.Join(", ", dims)}], which look like interleaved [H, W, C] pixels; "
                    + "expected planar [C, H, W]. Use mlContext.Transforms.ExtractPixels with interleavePixelColors: false.",
                    paramName);
            }

            if (shapeHint is { } h && h != fromDims)
            {
                throw new ArgumentException(
                    $"Image column '{columnName}' has dimensions [{string.Join(", ", dims)}] (C, H, W), which disagree with {h} given by {shapeSource}.",
                    paramName);
            }

            return fromDims;
        }

        if (shapeHint is not { } hint)
        {
            throw new ArgumentException(
                $"Image column '{columnName}' is a flat vector of {size} values ({Describe(vectorType)}), so the image shape is unknown. "
                + $"Give the channels, height and width in the options {ShapeOptionNames}, "
                + "or use a vector with dimensions [C, H, W] (mlContext.Transforms.ExtractPixels produces one).",
                paramName);
        }

        if (hint.Size != size)
        {
            throw new ArgumentException(
                $"Image column '{columnName}' has {size} values per row, but the shape {hint} given by {shapeSource} needs {hint.Size} "
                + $"({hint.Channels}*{hint.Height}*{hint.Width}).",
                paramName);
        }

        return hint;
    }

    private static int CheckClassCount(string columnName, ulong keyCount, string paramName)
    {
        if (keyCount < 2)
        {
            throw new ArgumentException(
                $"Label column '{columnName}' has fewer than 2 classes (key count {keyCount}); classification needs at least 2.", paramName);
        }

        if (keyCount > int.MaxValue)
        {
            throw new ArgumentException(
                $"Label column '{columnName}' has {keyCount} key values, more than {int.MaxValue} classes.", paramName);
        }

        return (int)keyCount;
    }

    private static ArgumentException MissingColumn(string role, string columnName, IEnumerable<string> present, string paramName)
    {
        string names = string.Join(", ", present.Distinct().Select(n => $"'{n}'"));
        return new ArgumentException(
            $"{role} column '{columnName}' was not found in the input data. Columns present: {(names.Length == 0 ? "none" : names)}.", paramName);
    }

    private static ArgumentException WrongImageType(string columnName, string actualType, string paramName) => new(
        $"Image column '{columnName}' has type {actualType}; expected an image (MLImage from mlContext.Transforms.LoadImages or ResizeImages), "
        + "or a known-size vector of Single or Byte holding C*H*W pixels (for example from mlContext.Transforms.ExtractPixels).",
        paramName);

    private static ArgumentException NotAKey(string columnName, string actualType, string paramName) => new(
        $"Label column '{columnName}' has type {actualType}; expected a key type (Key<UInt32>). "
        + $"Convert it with mlContext.Transforms.Conversion.MapValueToKey(\"{columnName}\").",
        paramName);

    private static ArgumentException NotUInt32Key(string columnName, string actualType, string paramName) => new(
        $"Label column '{columnName}' has type {actualType}; expected a key of UInt32. "
        + $"Convert it with mlContext.Transforms.Conversion.MapValueToKey(\"{columnName}\").",
        paramName);

    /// <summary>The key's KeyValues annotation as K strings, or null when there is none usable.</summary>
    private static string[]? ReadClassNames(DataViewSchema.Column column, int classCount)
    {
        DataViewSchema.Column? keyValues = column.Annotations.Schema.GetColumnOrNull(KeyValuesAnnotation);
        if (keyValues is { Type: VectorDataViewType { IsKnownSize: true } vectorType } && vectorType.Size == classCount)
        {
            MethodInfo read = typeof(ImageSchemaValidator).GetMethod(nameof(ReadAnnotationStrings), BindingFlags.NonPublic | BindingFlags.Static)!
                .MakeGenericMethod(vectorType.ItemType.RawType);
            try
            {
                if (read.Invoke(null, [column.Annotations]) is string[] names)
                {
                    return names;
                }
            }
            catch (TargetInvocationException)
            {
                // An annotation of a type we cannot read as values: fall back to numbers.
            }
        }

        return null;
    }

    private static string[]? ReadAnnotationStrings<T>(DataViewSchema.Annotations annotations)
    {
        VBuffer<T> values = default;
        annotations.GetValue(KeyValuesAnnotation, ref values);
        var result = new string[values.Length];
        int i = 0;
        foreach (T value in values.DenseValues())
        {
            result[i++] = value switch
            {
                ReadOnlyMemory<char> text => text.ToString(),
                IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
                null => string.Empty,
                _ => value.ToString() ?? string.Empty,
            };
        }

        return result;
    }
}
