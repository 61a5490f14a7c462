// Licensed under the MIT license. See LICENSE in the repository root.

using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>One Fashion-MNIST image: 28x28 grey pixels (planar, 1x28x28) and its class name.</summary>
public sealed class FashionMnistImage
{
    /// <summary>The ten class names, in label order.</summary>
    public static readonly string[] ClassNames =
        { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    /// <summary>784 pixels, 0 (background) to 255.</summary>
    [VectorType(1, 28, 28)]
    public byte[] Image { get; set; } = Array.Empty<byte>();

    /// <summary>Class name, e.g. "Sneaker".</summary>
    public string Label { get; set; } = "";
}

/// <summary>Reads Fashion-MNIST in its original IDX format (optionally gzip-compressed).</summary>
public static class FashionMnist
{
    /// <summary>The subset that ships with the sample (5,000 train and 1,000 test images).</summary>
    public static string EmbeddedFolder => Path.Combine(AppContext.BaseDirectory, "Data", "fashion-mnist");

    /// <summary>The full dataset from the Debian package dataset-fashion-mnist.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>Reads a split ("train" or "t10k") from <paramref name="folder"/>, at most <paramref name="maxRows"/> rows.</summary>
    public static List<FashionMnistImage> Read(string folder, string split, int maxRows = int.MaxValue)
    {
        byte[] images = ReadIdx(Path.Combine(folder, $"{split}-images-idx3-ubyte.gz"), expectedDims: 3, out int[] imageDims);
        byte[] labels = ReadIdx(Path.Combine(folder, $"{split}-labels-idx1-ubyte.gz"), expectedDims: 1, out int[] labelDims);
        if (imageDims[0] != labelDims[0] || imageDims[1] != 28 || imageDims[2] != 28)
            throw new InvalidDataException($"'{folder}' {split}: {imageDims[0]} images of {imageDims[1]}x{imageDims[2]} but {labelDims[0]} labels; expected 28x28 images, one label each.");
        int count = Math.Min(maxRows, imageDims[0]);
        var rows = new List<FashionMnistImage>(count);
        for (int i = 0; i < count; i++)
        {
            int label = labels[i];
            if (label >= FashionMnistImage.ClassNames.Length)
                throw new InvalidDataException($"'{folder}' {split}: row {i} has label {label}; Fashion-MNIST labels are 0-9.");
            rows.Add(new FashionMnistImage { Image = images.AsSpan(i * 784, 784).ToArray(), Label = FashionMnistImage.ClassNames[label] });
        }
        return rows;
    }

    /// <summary>Loads a split as an IDataView with columns Image (Vector&lt;Byte, 1, 28, 28&gt;) and Label (text).</summary>
    public static IDataView Load(MLContext mlContext, string folder, string split, int maxRows = int.MaxValue)
        => mlContext.Data.LoadFromEnumerable(Read(folder, split, maxRows));

    private static byte[] ReadIdx(string path, int expectedDims, out int[] dims)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Fashion-MNIST file not found: '{path}'. The full set comes with 'apt-get install dataset-fashion-mnist'.", path);
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        byte[] data = buffer.ToArray();
        if (data.Length < 4 || data[0] != 0 || data[1] != 0 || data[2] != 0x08 || data[3] != expectedDims)
            throw new InvalidDataException($"'{path}' is not an IDX file of unsigned bytes with {expectedDims} dimension(s).");
        dims = new int[expectedDims];
        long total = 1;
        for (int d = 0; d < expectedDims; d++)
        {
            dims[d] = (data[4 + 4 * d] << 24) | (data[5 + 4 * d] << 16) | (data[6 + 4 * d] << 8) | data[7 + 4 * d];
            total *= dims[d];
        }
        int header = 4 + 4 * expectedDims;
        if (data.Length - header < total)
            throw new InvalidDataException($"'{path}' is truncated: {data.Length - header} bytes of data, {total} expected.");
        return data.AsSpan(header, (int)total).ToArray();
    }

    /// <summary>
    /// The fidelity protocol's data: the training file's first <paramref name="trainRows"/> images and the test file's first
    /// <paramref name="testRows"/>, labels mapped to keys by value (the order the fidelity teacher file was trained with, which every
    /// student distilled from it must share), both cached.
    /// </summary>
    public static (IDataView Train, IDataView Test) LoadKeyedByValue(MLContext mlContext, string folder, int trainRows, int testRows)
    {
        var trainRaw = Load(mlContext, folder, "train", trainRows);
        var testRaw = Load(mlContext, folder, "t10k", testRows);
        var keys = mlContext.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(trainRaw);
        return (mlContext.Data.Cache(keys.Transform(trainRaw)), mlContext.Data.Cache(keys.Transform(testRaw)));
    }
}
