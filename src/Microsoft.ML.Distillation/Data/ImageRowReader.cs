// Licensed under the MIT license. See LICENSE in the repository root.

using System.Numerics;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Decodes the image of the current row of a <see cref="DataViewRow"/> (usually a cursor) into planar C*H*W values.
/// The training reader (<see cref="ImageDatasetReader"/>) and the scoring transformer both use it, so the two decode pixels alike.
/// </summary>
/// <remarks>
/// <para><c>MLImage</c> columns become RGB (3 channels, alpha dropped; Bgra32 and Rgba32 are both honoured) with values 0..255.
/// Vector columns are copied as given. The image is copied out at once: the next <c>MoveNext</c> may dispose it (LoadImages
/// does). The reader hands the getter its previous image, as ML.NET getters expect, and never disposes an image itself.</para>
/// <para>Row problems are <see cref="InvalidOperationException"/>s naming the column and the 0-based row
/// (<see cref="DataViewRow.Position"/>): no image, an unreadable image, an unsupported pixel format, or an image whose size differs
/// from the expected one (<see cref="ImageColumnInfo.Shape"/>, or the first row read when the column's size is not fixed).
/// Those of the row's image alone (no image, unreadable, incomplete or corrupt file data) are <see cref="UnreadableImageException"/>s.</para>
/// <para>With file checking on, an <c>MLImage</c> whose <see cref="MLImage.Tag"/> names an existing file is checked against that file
/// (<see cref="ImageFileIntegrity"/>). <c>LoadImages</c> puts the path it read (its image folder combined with the row's path) in
/// <see cref="MLImage.Tag"/>, a public property, and <c>ResizeImages</c> and <c>ConvertToGrayscale</c> carry it over (ML.NET 5.0.1),
/// so the file checked is the file that was decoded, whatever the image folder and the path column were. Images without such a tag
/// (built in memory, or passed through a transform that drops it) are not checked.</para>
/// <para>Not thread-safe: one reader per cursor.</para>
/// </remarks>
internal sealed class ImageRowReader
{
    private readonly DataViewRow _row;
    private readonly ImageColumnInfo _column;
    private readonly ValueGetter<MLImage>? _imageGetter;
    private readonly ValueGetter<VBuffer<byte>>? _byteGetter;
    private readonly ValueGetter<VBuffer<float>>? _singleGetter;
    private readonly bool _checkFiles;
    private string _shapeSource;
    private MLImage? _image;
    private VBuffer<byte> _bytes;
    private VBuffer<float> _singles;
    private long _fetchedPosition = -1;

    /// <summary>Creates a reader for one column of <paramref name="row"/>.</summary>
    /// <param name="row">The row or cursor; the image column must be active in it.</param>
    /// <param name="column">
    /// The column as validated against <paramref name="row"/>'s schema by <see cref="ImageSchemaValidator.ValidateImageColumn"/>.
    /// When its shape is unknown, the first row read sets it.
    /// </param>
    /// <param name="checkFiles">
    /// Check the file each <c>MLImage</c> was loaded from for incomplete or corrupt data (a second decode; see the remarks).
    /// </param>
    /// <exception cref="ArgumentException">The column is not in the row's schema, not active, or not of the validated type.</exception>
    public ImageRowReader(DataViewRow row, ImageColumnInfo column, bool checkFiles = false)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(column);
        _row = row;
        _column = column;
        _checkFiles = checkFiles && column.Kind == ImageColumnKind.Image;
        Shape = column.Shape;
        _shapeSource = column.ShapeSource ?? "the expected size";

        DataViewSchema.Column schemaColumn = row.Schema.GetColumnOrNull(column.Name)
            ?? throw new ArgumentException($"Image column '{column.Name}' is not in the row's schema.", nameof(row));
        if (!row.IsColumnActive(schemaColumn))
        {
            throw new ArgumentException($"Image column '{column.Name}' is not active in the cursor; ask for it when opening the cursor.", nameof(row));
        }

        try
        {
            switch (column.Kind)
            {
                case ImageColumnKind.Image:
                    _imageGetter = row.GetGetter<MLImage>(schemaColumn);
                    break;
                case ImageColumnKind.ByteVector:
                    _byteGetter = row.GetGetter<VBuffer<byte>>(schemaColumn);
                    break;
                default:
                    _singleGetter = row.GetGetter<VBuffer<float>>(schemaColumn);
                    break;
            }
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException(
                $"Image column '{column.Name}' has type {ImageSchemaValidator.Describe(schemaColumn.Type)}, not the {column.Kind} it was validated as.",
                nameof(row), e);
        }
    }

    /// <summary>The column this reader decodes.</summary>
    public ImageColumnInfo Column => _column;

    /// <summary>
    /// Channels, height and width every row must have; <see langword="null"/> until the first row is read when the column's size
    /// is not fixed by its type or a hint.
    /// </summary>
    public ImageShape? Shape { get; private set; }

    /// <summary>Fetches the current row's image (once per row) and returns its shape, after checking it against <see cref="Shape"/>.</summary>
    /// <exception cref="InvalidOperationException">The row has no readable image, or one of another size.</exception>
    public ImageShape CurrentShape()
    {
        Fetch();
        return Shape!.Value;
    }

    /// <summary>
    /// Decodes the current row into <paramref name="destination"/>: exactly C*H*W values, planar (all of channel 0, then channel 1, ...).
    /// Into <see cref="float"/>, any column can be read (bytes become 0..255); into <see cref="byte"/>, only <c>MLImage</c> and byte-vector columns.
    /// </summary>
    /// <typeparam name="T"><see cref="byte"/> or <see cref="float"/>.</typeparam>
    /// <exception cref="ArgumentException"><paramref name="destination"/> has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">
    /// The row has no readable image, or one of another size (see <see cref="CurrentShape"/>); or a float column is read into bytes.
    /// </exception>
    public void Read<T>(Span<T> destination)
        where T : unmanaged, INumberBase<T>
    {
        if (typeof(T) != typeof(float) && _column.Kind == ImageColumnKind.SingleVector)
        {
            throw new InvalidOperationException($"Image column '{_column.Name}' holds floats; read it into a span of float, not of {typeof(T).Name}.");
        }

        ImageShape shape = CurrentShape();
        if (destination.Length != shape.Size)
        {
            throw new ArgumentException(
                $"Image column '{_column.Name}': the destination holds {destination.Length} values, but an image of {shape} needs {shape.Size}.",
                nameof(destination));
        }

        switch (_column.Kind)
        {
            case ImageColumnKind.Image:
                MLImage image = _image!;
                ReadOnlySpan<byte> pixels = image.Pixels;
                PixelDecoding.PackedToPlanarRgb(
                    pixels, pixels.Length / image.Height, image.Height, image.Width, image.PixelFormat == MLPixelFormat.Bgra32, destination);
                break;
            case ImageColumnKind.ByteVector:
                PixelDecoding.VectorToSpan(_bytes, destination);
                break;
            default:
                PixelDecoding.VectorToSpan(_singles, destination);
                break;
        }
    }

    private void Fetch()
    {
        long position = _row.Position;
        if (position == _fetchedPosition)
        {
            return;
        }

        if (position < 0)
        {
            throw new InvalidOperationException($"Image column '{_column.Name}': the cursor is not on a row; call MoveNext first.");
        }

        try
        {
            switch (_column.Kind)
            {
                case ImageColumnKind.Image:
                    _imageGetter!(ref _image!);
                    break;
                case ImageColumnKind.ByteVector:
                    _byteGetter!(ref _bytes);
                    break;
                default:
                    _singleGetter!(ref _singles);
                    break;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new UnreadableImageException($"Image column '{_column.Name}', row {position}: the image could not be read: {e.Message}", e);
        }

        ImageShape actual = _column.Kind switch
        {
            ImageColumnKind.Image => CheckImage(_image, position),
            ImageColumnKind.ByteVector => CheckVectorLength(_bytes.Length, position),
            _ => CheckVectorLength(_singles.Length, position),
        };

        if (Shape is not { } expected)
        {
            Shape = actual;
            _shapeSource = $"row {position}";
        }
        else if (expected != actual)
        {
            throw new InvalidOperationException(
                $"Image column '{_column.Name}', row {position}: the image is {actual.Height}x{actual.Width} (height x width), "
                + $"but the size from {_shapeSource} is {expected.Height}x{expected.Width}. All images must have one size: "
                + "add mlContext.Transforms.ResizeImages(...) before this step.");
        }

        _fetchedPosition = position;
    }

    private ImageShape CheckImage(MLImage? image, long position)
    {
        if (image is null)
        {
            throw new UnreadableImageException(
                $"Image column '{_column.Name}', row {position}: there is no image (null). Check that the file exists and is a readable image.");
        }

        if (image.PixelFormat is not (MLPixelFormat.Bgra32 or MLPixelFormat.Rgba32) || image.BitsPerPixel != 32)
        {
            throw new InvalidOperationException(
                $"Image column '{_column.Name}', row {position}: pixel format {image.PixelFormat} ({image.BitsPerPixel} bits per pixel) "
                + "is not supported; expected Bgra32 or Rgba32.");
        }

        if (image.Height <= 0 || image.Width <= 0)
        {
            throw new UnreadableImageException($"Image column '{_column.Name}', row {position}: the image is empty ({image.Height}x{image.Width}).");
        }

        if (_checkFiles && image.Tag is { Length: > 0 } path && File.Exists(path) && ImageFileIntegrity.FindDamage(path) is { } damage)
        {
            throw new UnreadableImageException(
                $"Image column '{_column.Name}', row {position}: the file '{path}' {damage}; it was decoded only in part, so the image "
                + "would train with missing or wrong pixels.");
        }

        return new ImageShape(3, image.Height, image.Width);
    }

    private ImageShape CheckVectorLength(int length, long position)
    {
        ImageShape shape = Shape!.Value;
        if (length != shape.Size)
        {
            throw new InvalidOperationException(
                $"Image column '{_column.Name}', row {position}: the vector has {length} values, but its type promises {shape.Size} ({shape}).");
        }

        return shape;
    }
}
