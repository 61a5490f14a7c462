// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Transforms.Image;
using static Microsoft.ML.Distillation.Tests.Data.DataTestHelpers;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Data;

[TestClass]
[DoNotParallelize]
public sealed class ImageDatasetReaderTests
{
    // A 2x2 RGB image, row by row: (10,20,30) (40,50,60) / (70,80,90) (100,110,120).
    private static readonly byte[] RgbA = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120];

    // Planar CHW of RgbA: all R, then all G, then all B.
    private static readonly byte[] ChwA = [10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120];

    private static readonly byte[] RgbB = [255, 0, 1, 2, 254, 3, 4, 5, 253, 128, 64, 32];

    private static readonly byte[] ChwB = [255, 2, 4, 128, 0, 254, 5, 64, 1, 3, 253, 32];

    private string _folder = "";

    [TestInitialize]
    public void CreateFolder() => _folder = NewTempFolder();

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    [TestMethod]
    public void PngThroughLoadImages_DecodesToExactChwBytes()
    {
        SavePng(Path.Combine(_folder, "a.png"), 2, 2, RgbA);
        SavePng(Path.Combine(_folder, "b.png"), 2, 2, RgbB);
        IDataView data = LoadedImages(("a.png", "cat"), ("b.png", "dog"), ("a.png", "dog"));
        Assert.AreEqual(MLPixelFormat.Bgra32, FirstImageFormat(data), "The test means to cover decoded (Bgra32) images.");

        using ImageTensorDataset dataset = ImageDatasetReader.Read(data, "Image", "Label");

        Assert.AreEqual(ScalarType.Byte, dataset.Images.dtype);
        CollectionAssert.AreEqual(new long[] { 3, 3, 2, 2 }, dataset.Images.shape);
        Assert.AreEqual(new ImageShape(3, 2, 2), dataset.Shape);
        CollectionAssert.AreEqual(ChwA, dataset.Images[0].data<byte>().ToArray());
        CollectionAssert.AreEqual(ChwB, dataset.Images[1].data<byte>().ToArray());
        CollectionAssert.AreEqual(ChwA, dataset.Images[2].data<byte>().ToArray());
        Assert.AreEqual(ScalarType.Int64, dataset.Labels.dtype);
        CollectionAssert.AreEqual(new long[] { 0, 1, 1 }, dataset.Labels.data<long>().ToArray());
        Assert.AreEqual(2, dataset.ClassCount);
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, dataset.ClassNames);
        Assert.AreEqual(3, dataset.Count);
    }

    [TestMethod]
    public void Rgba32MLImages_DecodeToTheSameChwBytes()
    {
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new MLImageRow { Image = RgbaImage(RgbA), Label = "cat" },
            new MLImageRow { Image = RgbaImage(RgbB), Label = "dog" },
        }));
        Assert.IsInstanceOfType<ImageDataViewType>(data.Schema["Image"].Type);
        Assert.AreEqual(MLPixelFormat.Rgba32, FirstImageFormat(data), "The test means to cover Rgba32 images.");

        using ImageTensorDataset dataset = ImageDatasetReader.Read(data, "Image", "Label");

        CollectionAssert.AreEqual(ChwA, dataset.Images[0].data<byte>().ToArray());
        CollectionAssert.AreEqual(ChwB, dataset.Images[1].data<byte>().ToArray());
    }

    [TestMethod]
    public void SingleChwVector_RoundTripsExactValues()
    {
        float[] a = [-1.5f, 0.25f, 1e6f, 3.1415927f, 0, -0.0001f, 7, 8, 9, 10, 11, 255.5f];
        float[] b = Enumerable.Range(0, 12).Select(i => i * 0.1f).ToArray();
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new ChwSingleRow { Image = a, Label = "x" },
            new ChwSingleRow { Image = b, Label = "y" },
        }));

        using ImageTensorDataset dataset = ImageDatasetReader.Read(data, "Image", "Label");

        Assert.AreEqual(ScalarType.Float32, dataset.Images.dtype);
        CollectionAssert.AreEqual(new long[] { 2, 3, 2, 2 }, dataset.Images.shape);
        CollectionAssert.AreEqual(a, dataset.Images[0].data<float>().ToArray());
        CollectionAssert.AreEqual(b, dataset.Images[1].data<float>().ToArray());
    }

    [TestMethod]
    public void FlatByteVectorWithHint_RoundTripsExactValues()
    {
        byte[] a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255];
        byte[] b = [255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 0];
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new FlatByteRow { Image = a, Label = "x" },
            new FlatByteRow { Image = b, Label = "y" },
        }));

        using ImageTensorDataset dataset = ImageDatasetReader.Read(data, "Image", "Label", new ImageShape(3, 2, 2));

        Assert.AreEqual(ScalarType.Byte, dataset.Images.dtype);
        CollectionAssert.AreEqual(new long[] { 2, 3, 2, 2 }, dataset.Images.shape);
        CollectionAssert.AreEqual(a, dataset.Images[0].data<byte>().ToArray());
        CollectionAssert.AreEqual(b, dataset.Images[1].data<byte>().ToArray());
    }

    [TestMethod]
    public void ManyRows_AreAllKeptInOrder()
    {
        // More rows than one staging block of RowTensorBuilder holds would need a big image; instead check growth across the
        // initial capacity (256 rows) with an unknown row count (a filtered view reports none).
        var rows = Enumerable.Range(0, 1000).Select(i => new FlatByteRow
        {
            Image = Enumerable.Repeat((byte)(i % 251), 12).ToArray(),
            Label = (i % 3).ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).ToArray();
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(rows));
        IDataView unknownCount = Context.Data.FilterRowsByMissingValues(data, "Label");
        Assert.IsNull(unknownCount.GetRowCount());

        using ImageTensorDataset dataset = ImageDatasetReader.Read(unknownCount, "Image", "Label", new ImageShape(1, 3, 4));

        Assert.AreEqual(1000, dataset.Count);
        byte[] firstPixels = dataset.Images.select(1, 0).select(1, 0).select(1, 0).data<byte>().ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(0, 1000).Select(i => (byte)(i % 251)).ToArray(), firstPixels);
        CollectionAssert.AreEqual(Enumerable.Range(0, 1000).Select(i => (long)(i % 3)).ToArray(), dataset.Labels.data<long>().ToArray());
    }

    [TestMethod]
    public void Dataset_OutlivesTheCallersDisposeScope()
    {
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new FlatByteRow { Image = Enumerable.Repeat((byte)5, 12).ToArray(), Label = "x" },
            new FlatByteRow { Image = Enumerable.Repeat((byte)6, 12).ToArray(), Label = "y" },
        }));

        ImageTensorDataset dataset;
        using (NewDisposeScope())
        {
            dataset = ImageDatasetReader.Read(data, "Image", "Label", new ImageShape(3, 2, 2));
        }

        using (dataset)
        {
            Assert.IsFalse(dataset.Images.IsInvalid);
            Assert.AreEqual(5 * 12 + 6 * 12, dataset.Images.sum().item<long>());
            CollectionAssert.AreEqual(new long[] { 0, 1 }, dataset.Labels.data<long>().ToArray());
        }
    }

    [TestMethod]
    public void ZeroRows_IsAnError()
    {
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(Array.Empty<ChwSingleRow>()), Labels("cat", "dog"));
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ImageDatasetReader.Read(data, "Image", "Label"));
        AssertMentions(e, "no rows", "'Image'", "'Label'");
    }

    [TestMethod]
    public void OnlyOneClassPresent_IsAnError()
    {
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new ChwSingleRow { Image = new float[12], Label = "cat" },
            new ChwSingleRow { Image = new float[12], Label = "cat" },
        }), Labels("cat", "dog"));
        Assert.AreEqual(2, ImageSchemaValidator.ValidateLabelColumn(data.Schema, "Label").ClassCount);

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ImageDatasetReader.Read(data, "Image", "Label"));
        AssertMentions(e, "Label column 'Label'", "'cat'", "at least 2 different classes");
    }

    [TestMethod]
    public void MissingKey_NamesColumnAndRow()
    {
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new ChwSingleRow { Image = new float[12], Label = "cat" },
            new ChwSingleRow { Image = new float[12], Label = "dog" },
            new ChwSingleRow { Image = new float[12], Label = "bird" },
        }), Labels("cat", "dog"));

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ImageDatasetReader.Read(data, "Image", "Label"));
        AssertMentions(e, "Label column 'Label', row 2", "missing", "raw key 0");
    }

    [TestMethod]
    public void ImagesOfDifferentSizes_NameColumnAndRow_AndResizeFixesIt()
    {
        SavePng(Path.Combine(_folder, "small.png"), 2, 2, RgbA);
        SavePng(Path.Combine(_folder, "large.png"), 3, 3, new byte[27]);
        IDataView data = LoadedImages(("small.png", "cat"), ("small.png", "dog"), ("large.png", "cat"));

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ImageDatasetReader.Read(data, "Image", "Label"));
        AssertMentions(e, "Image column 'Image', row 2", "3x3", "the size from row 0 is 2x2", "ResizeImages");

        IDataView resized = Context.Transforms.ResizeImages("Image", 4, 4).Fit(data).Transform(data);
        using ImageTensorDataset dataset = ImageDatasetReader.Read(resized, "Image", "Label");
        CollectionAssert.AreEqual(new long[] { 3, 3, 4, 4 }, dataset.Images.shape);
    }

    [TestMethod]
    public void UnreadableImage_NamesColumnAndRow()
    {
        SavePng(Path.Combine(_folder, "a.png"), 2, 2, RgbA);
        File.WriteAllText(Path.Combine(_folder, "broken.png"), "not an image");
        IDataView data = LoadedImages(("a.png", "cat"), ("broken.png", "dog"));

        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ImageDatasetReader.Read(data, "Image", "Label"));
        AssertMentions(e, "Image column 'Image', row 1");
    }

    [TestMethod]
    public void RowReader_GivesScoringTheSameValuesAsFloats()
    {
        SavePng(Path.Combine(_folder, "a.png"), 2, 2, RgbA);
        SavePng(Path.Combine(_folder, "b.png"), 2, 2, RgbB);
        IDataView data = LoadedImages(("a.png", "cat"), ("b.png", "dog"));
        ImageColumnInfo info = ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image", new ImageShape(3, 2, 2), shapeSource: "the trained model");

        using DataViewRowCursor cursor = data.GetRowCursor([data.Schema["Image"]]);
        var reader = new ImageRowReader(cursor, info);
        var values = new float[12];
        var rows = new List<float[]>();
        while (cursor.MoveNext())
        {
            reader.Read<float>(values);
            rows.Add((float[])values.Clone());
        }

        CollectionAssert.AreEqual(ChwA.Select(v => (float)v).ToArray(), rows[0]);
        CollectionAssert.AreEqual(ChwB.Select(v => (float)v).ToArray(), rows[1]);
    }

    [TestMethod]
    public void RowReader_ChecksRowsAgainstTheGivenShape()
    {
        SavePng(Path.Combine(_folder, "a.png"), 2, 2, RgbA);
        IDataView data = LoadedImages(("a.png", "cat"));
        ImageColumnInfo info = ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image", new ImageShape(3, 4, 4), shapeSource: "the trained model");

        using DataViewRowCursor cursor = data.GetRowCursor([data.Schema["Image"]]);
        var reader = new ImageRowReader(cursor, info);
        Assert.IsTrue(cursor.MoveNext());
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => reader.Read<float>(new float[48]));
        AssertMentions(e, "Image column 'Image', row 0", "2x2", "the size from the trained model is 4x4");
    }

    [TestMethod]
    public void RowReader_RefusesToReadFloatsAsBytes()
    {
        IDataView data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[] { new ChwSingleRow { Image = new float[12], Label = "x" } }));
        ImageColumnInfo info = ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image");
        using DataViewRowCursor cursor = data.GetRowCursor([data.Schema["Image"]]);
        var reader = new ImageRowReader(cursor, info);
        Assert.IsTrue(cursor.MoveNext());
        Assert.ThrowsExactly<InvalidOperationException>(() => reader.Read<byte>(new byte[12]));
    }

    [TestMethod]
    public void SparseVector_DecodesWithZerosInTheGaps()
    {
        var sparse = new VBuffer<byte>(6, 2, [7, 9], [1, 4]);
        var values = new float[6];
        PixelDecoding.VectorToSpan(sparse, values.AsSpan());
        CollectionAssert.AreEqual(new float[] { 0, 7, 0, 0, 9, 0 }, values);
    }

    private IDataView LoadedImages(params (string File, string Label)[] rows)
    {
        IDataView paths = Context.Data.LoadFromEnumerable(rows.Select(r => new PathRow { ImagePath = r.File, Label = r.Label }));
        IDataView images = Context.Transforms.LoadImages("Image", _folder, "ImagePath").Fit(paths).Transform(paths);
        return WithKeyLabel(images);
    }

    private static MLImage RgbaImage(byte[] rgb)
    {
        var rgba = new byte[16];
        for (int i = 0; i < 4; i++)
        {
            rgba[(4 * i) + 0] = rgb[(3 * i) + 0];
            rgba[(4 * i) + 1] = rgb[(3 * i) + 1];
            rgba[(4 * i) + 2] = rgb[(3 * i) + 2];
            rgba[(4 * i) + 3] = 255;
        }

        return MLImage.CreateFromPixels(2, 2, MLPixelFormat.Rgba32, rgba);
    }

    private static MLPixelFormat FirstImageFormat(IDataView data)
    {
        using DataViewRowCursor cursor = data.GetRowCursor([data.Schema["Image"]]);
        ValueGetter<MLImage> getter = cursor.GetGetter<MLImage>(data.Schema["Image"]);
        Assert.IsTrue(cursor.MoveNext());
        MLImage image = null!;
        getter(ref image);
        return image.PixelFormat;
    }
}
