// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using SkiaSharp;
using static Microsoft.ML.Distillation.Tests.Data.DataTestHelpers;

namespace Microsoft.ML.Distillation.Tests.Data;

[TestClass]
public sealed class ImageFileIntegrityTests
{
    private string _folder = "";

    [TestInitialize]
    public void CreateFolder() => _folder = NewTempFolder();

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    /// <summary>Writes a textured image (so that it does not compress to nothing) and returns its path.</summary>
    internal static string WriteImage(string path, SKEncodedImageFormat format, int width, int height, SKColorType colorType = SKColorType.Rgba8888)
    {
        using var bitmap = new SKBitmap(width, height, colorType, SKAlphaType.Opaque);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                byte v = (byte)((x * 37) ^ (y * 101) ^ (x * y));
                bitmap.SetPixel(x, y, new SKColor(v, (byte)(v + x), (byte)(3 * y)));
            }
        }

        using SKData data = bitmap.Encode(format, 90);
        File.WriteAllBytes(path, data.ToArray());
        return path;
    }

    /// <summary>Cuts the file to <paramref name="fraction"/> of its bytes, as an interrupted copy would.</summary>
    internal static void Truncate(string path, double fraction = 0.5)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);
    }

    [TestMethod]
    [DataRow(SKEncodedImageFormat.Png, 28, SKColorType.Rgba8888)]
    [DataRow(SKEncodedImageFormat.Png, 28, SKColorType.Gray8)]
    [DataRow(SKEncodedImageFormat.Png, 300, SKColorType.Rgba8888)]
    [DataRow(SKEncodedImageFormat.Jpeg, 28, SKColorType.Rgba8888)]
    [DataRow(SKEncodedImageFormat.Jpeg, 300, SKColorType.Rgba8888)]
    public void IntactImage_IsNotFlagged(SKEncodedImageFormat format, int size, SKColorType colorType)
    {
        string path = WriteImage(Path.Combine(_folder, "intact." + format), format, size, size, colorType);

        Assert.IsNull(ImageFileIntegrity.FindDamage(path));

        // Bytes after the end of the image (some tools append metadata) are not damage either.
        File.AppendAllText(path, "trailing bytes");
        Assert.IsNull(ImageFileIntegrity.FindDamage(path));
    }

    [TestMethod]
    [DataRow(SKEncodedImageFormat.Png, 28, 0.5)]
    [DataRow(SKEncodedImageFormat.Png, 28, 0.9)]
    [DataRow(SKEncodedImageFormat.Png, 300, 0.5)]
    [DataRow(SKEncodedImageFormat.Png, 300, 0.99)]
    [DataRow(SKEncodedImageFormat.Jpeg, 28, 0.5)]
    [DataRow(SKEncodedImageFormat.Jpeg, 28, 0.9)]
    [DataRow(SKEncodedImageFormat.Jpeg, 300, 0.5)]
    [DataRow(SKEncodedImageFormat.Jpeg, 300, 0.99)]
    public void TruncatedImage_WhichMLImageLoadsSilently_IsFlagged(SKEncodedImageFormat format, int size, double fraction)
    {
        string path = WriteImage(Path.Combine(_folder, "cut." + format), format, size, size);
        Truncate(path, fraction);
        using (MLImage loaded = MLImage.CreateFromFile(path))
            Assert.AreEqual(size, loaded.Height, "ML.NET's loader accepts the cut file: the check is what stands between it and training.");

        StringAssert.Contains(ImageFileIntegrity.FindDamage(path), "ends before its image data does");
    }

    [TestMethod]
    public void PngWithACorruptDataChunk_IsFlagged()
    {
        string path = WriteImage(Path.Combine(_folder, "corrupt.png"), SKEncodedImageFormat.Png, 64, 64);
        byte[] bytes = File.ReadAllBytes(path);
        for (int i = bytes.Length / 2; i < (bytes.Length / 2) + 8; i++)
            bytes[i] ^= 0x5a;
        File.WriteAllBytes(path, bytes);

        StringAssert.Contains(ImageFileIntegrity.FindDamage(path), "corrupt");
    }

    [TestMethod]
    public void FileTheCodecCannotOpen_IsLeftToTheLoader()
    {
        string path = Path.Combine(_folder, "notes.png");
        File.WriteAllText(path, "not an image");

        Assert.IsNull(ImageFileIntegrity.FindDamage(path), "Not judged here: LoadImages itself refuses such a file.");
    }

    [TestMethod]
    public void LoadImagesTag_NamesTheFileRead_ThroughResizeAndGrayscale()
    {
        // The check relies on this ML.NET behaviour (public MLImage.Tag); a new ML.NET that drops it would silently turn the check off.
        string subfolder = Directory.CreateDirectory(Path.Combine(_folder, "cats")).FullName;
        WriteImage(Path.Combine(subfolder, "a.png"), SKEncodedImageFormat.Png, 8, 8);
        IDataView paths = Context.Data.LoadFromEnumerable(new[] { new PathRow { ImagePath = Path.Combine("cats", "a.png"), Label = "cat" } });
        var pipeline = Context.Transforms.LoadImages("Image", _folder, "ImagePath")
            .Append(Context.Transforms.ResizeImages("Image", 4, 4))
            .Append(Context.Transforms.ConvertToGrayscale("Image"));

        IDataView images = pipeline.Fit(paths).Transform(paths);
        using DataViewRowCursor cursor = images.GetRowCursor([images.Schema["Image"]]);
        ValueGetter<MLImage> getter = cursor.GetGetter<MLImage>(images.Schema["Image"]);
        MLImage image = null!;
        Assert.IsTrue(cursor.MoveNext());
        getter(ref image);

        Assert.AreEqual(Path.Combine(subfolder, "a.png"), image.Tag);
    }
}
