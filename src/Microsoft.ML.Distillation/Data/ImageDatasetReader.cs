// Licensed under the MIT license. See LICENSE in the repository root.

using System.Numerics;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Reads an <see cref="IDataView"/> into an <see cref="ImageTensorDataset"/> in one cursor pass: every image is decoded once
/// (by <see cref="ImageRowReader"/>) into a compact [N, C, H, W] tensor, every key label becomes a 0-based class index.
/// </summary>
/// <remarks>
/// <para>Schema problems are <see cref="ArgumentException"/>s (parameter <c>data</c>) raised before any row is read; see
/// <see cref="ImageSchemaValidator"/>. Row problems are <see cref="InvalidOperationException"/>s that name the column, the
/// 0-based row and the row's text columns (for LoadImages, the file): a missing label (raw key 0), an image of another size than
/// the first, an unreadable image (the loader failed, or the file LoadImages read holds incomplete or corrupt image data, which
/// ML.NET decodes in part without a word; see <see cref="ImageRowReader"/>); and, after the pass, no rows at all or fewer than 2
/// different classes among the rows.</para>
/// <para>Given <c>onUnreadableRow</c>, rows with an unreadable image are left out instead (only those: a size or label problem
/// still stops the pass), and each is reported to it with its message.</para>
/// <para>The dataset's tensors are detached from dispose scopes: the dataset owns them and frees them in Dispose.</para>
/// </remarks>
internal static class ImageDatasetReader
{
    private const int CheckEveryRows = 256;

    /// <summary>Validates the columns, then reads all rows.</summary>
    /// <param name="data">The training (or validation) data.</param>
    /// <param name="imageColumnName">The image column: MLImage, or a known-size Single/Byte vector.</param>
    /// <param name="labelColumnName">The label column: a key of UInt32.</param>
    /// <param name="shapeHint">The shape from the options ImageChannels/ImageHeight/ImageWidth, if given (needed for flat vectors).</param>
    /// <param name="progress">Receives the number of rows read so far, now and then.</param>
    /// <param name="cancellationToken">Stops the pass.</param>
    /// <param name="onUnreadableRow">
    /// When given, rows whose image cannot be read are left out and reported here (0-based row, message naming the column, the row
    /// and its text columns); when null, such a row stops the pass with an <see cref="InvalidOperationException"/>.
    /// </param>
    /// <exception cref="ArgumentException">A column is missing or unsuitable.</exception>
    /// <exception cref="InvalidOperationException">A row is unsuitable, or the rows hold fewer than 2 classes.</exception>
    public static ImageTensorDataset Read(
        IDataView data,
        string imageColumnName,
        string labelColumnName,
        ImageShape? shapeHint = null,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default,
        Action<long, string>? onUnreadableRow = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ImageColumnInfo image = ImageSchemaValidator.ValidateImageColumn(data.Schema, imageColumnName, shapeHint);
        LabelColumnInfo label = ImageSchemaValidator.ValidateLabelColumn(data.Schema, labelColumnName);
        return Read(data, image, label, progress, cancellationToken, onUnreadableRow);
    }

    /// <summary>Reads all rows of columns already validated against <paramref name="data"/>'s schema.</summary>
    /// <exception cref="InvalidOperationException">A row is unsuitable, or the rows hold fewer than 2 classes.</exception>
    public static ImageTensorDataset Read(
        IDataView data,
        ImageColumnInfo image,
        LabelColumnInfo label,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default,
        Action<long, string>? onUnreadableRow = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(label);
        return image.ElementType == ScalarType.Float32
            ? Read<float>(data, image, label, progress, cancellationToken, onUnreadableRow)
            : Read<byte>(data, image, label, progress, cancellationToken, onUnreadableRow);
    }

    private static ImageTensorDataset Read<T>(
        IDataView data, ImageColumnInfo image, LabelColumnInfo label, IProgress<long>? progress, CancellationToken cancellationToken,
        Action<long, string>? onUnreadableRow)
        where T : unmanaged, INumberBase<T>
    {
        DataViewSchema schema = data.Schema;
        DataViewSchema.Column[] textColumns = RowDescription.TextColumns(schema, image.Name, label.Name);
        using DataViewRowCursor cursor = data.GetRowCursor([schema[image.Name], schema[label.Name], .. textColumns]);
        var imageReader = new ImageRowReader(cursor, image, checkFiles: true);
        var description = new RowDescription(cursor, textColumns);
        ValueGetter<uint> labelGetter = cursor.GetGetter<uint>(cursor.Schema[label.Name]);
        long skipped = 0;

        long expectedRows = data.GetRowCount() ?? 0;
        var labels = new List<long>((int)Math.Min(expectedRows, Array.MaxLength));
        var classCounts = new long[label.ClassCount];
        RowTensorBuilder<T>? images = null;
        try
        {
            uint key = 0;
            while (cursor.MoveNext())
            {
                long row = cursor.Position;
                if (row % CheckEveryRows == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress?.Report(row);
                }

                labelGetter(ref key);
                CheckKey(label, key, row);

                try
                {
                    ImageShape shape = imageReader.CurrentShape();
                    images ??= new RowTensorBuilder<T>([shape.Channels, shape.Height, shape.Width], expectedRows);
                    imageReader.Read(images.AddRow());
                }
                catch (UnreadableImageException e) when (onUnreadableRow is not null)
                {
                    // CurrentShape failed, so no row was added.
                    onUnreadableRow(row, e.Message + description.Describe());
                    skipped++;
                    continue;
                }
                catch (UnreadableImageException e)
                {
                    throw new InvalidOperationException(
                        e.Message + description.Describe() + " Replace or remove the file, or set SkipUnreadableImages = true in the "
                        + "options to leave such rows out of training.",
                        e.InnerException ?? e);
                }
                catch (InvalidOperationException e)
                {
                    // Name the row by its text columns too: for LoadImages that is the file that failed.
                    string text = description.Describe();
                    if (text.Length == 0)
                        throw;
                    throw new InvalidOperationException(e.Message + text, e.InnerException ?? e);
                }

                labels.Add(key - 1);
                classCounts[key - 1]++;
            }

            string leftOut = skipped == 0 ? "" : $" ({skipped} rows with an unreadable image were left out)";
            if (images is null)
            {
                throw new InvalidOperationException(
                    $"The input data has no rows{leftOut}; image column '{image.Name}' and label column '{label.Name}' need rows of at least 2 classes.");
            }

            progress?.Report(labels.Count);
            CheckClassesPresent(label, classCounts, labels.Count, leftOut);

            Tensor imageTensor = images.ToTensor();
            Tensor labelTensor = tensor(labels.ToArray(), ScalarType.Int64).DetachFromDisposeScope();
            return new ImageTensorDataset(imageTensor, labelTensor, imageReader.Shape!.Value, label.ClassCount, label.ClassNames);
        }
        finally
        {
            images?.Dispose();
        }
    }

    private static void CheckKey(LabelColumnInfo label, uint key, long row)
    {
        if (key == 0)
        {
            throw new InvalidOperationException(
                $"Label column '{label.Name}', row {row}: the label is missing (raw key 0). Every row needs a label; a value that "
                + "MapValueToKey did not see when it was fitted becomes missing. Fit the key mapping on all labels, or drop such rows "
                + "(mlContext.Data.FilterRowsByMissingValues).");
        }

        if (key > label.ClassCount)
        {
            throw new InvalidOperationException(
                $"Label column '{label.Name}', row {row}: raw key {key} is outside the key range 1..{label.ClassCount}.");
        }
    }

    private static void CheckClassesPresent(LabelColumnInfo label, long[] classCounts, long rows, string leftOut)
    {
        int present = classCounts.Count(c => c > 0);
        if (present < 2)
        {
            string name = label.ClassNames[Array.FindIndex(classCounts, c => c > 0)];
            throw new InvalidOperationException(
                $"Label column '{label.Name}': all {rows} rows{leftOut} hold the same class ('{name}'); training needs rows of at least 2 different classes.");
        }
    }
}
