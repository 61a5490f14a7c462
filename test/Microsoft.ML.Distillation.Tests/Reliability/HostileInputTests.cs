// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Reliability;

[TestClass]
[DoNotParallelize]
public sealed class HostileInputTests
{
    private string _folder = "";

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("distill-hostile-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private Exception FitOnFiles(Action<string> spoil, string spoiledName = "img0005.png", bool resize = true)
    {
        var ml = new MLContext(seed: 1);
        var rows = WriteFolder(spoiledName);
        spoil(Path.Combine(_folder, spoiledName));
        int epochs = 0;
        var options = new TeacherOptions { Architecture = "resnet8", Epochs = 1, Seed = 1, MetricsCallback = _ => epochs++ };
        var data = ml.Data.LoadFromEnumerable(rows);
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => Prepare(ml, resize).Append(ml.Distillation.Teacher(options)).Fit(data));
        Assert.AreEqual(0, epochs, "refused before training");
        StringAssert.Contains(e.Message, "Image column 'Image', row 5");
        StringAssert.Contains(e.Message, $"ImagePath = '{spoiledName}'");
        return e;
    }

    /// <summary>
    /// 12 PNG files (Fashion-MNIST, 28x28) in the folder and their rows; a <paramref name="name"/> ending in .jpg makes row 5 a
    /// real JPEG of the same picture under that name.
    /// </summary>
    private List<RealImages.ImageFileRow> WriteFolder(string name = "img0005.png")
    {
        var rows = RealImages.WritePngs(_folder, 12);
        if (name.EndsWith(".jpg", StringComparison.Ordinal))
        {
            string png = Path.Combine(_folder, rows[5].ImagePath);
            using (var bitmap = SkiaSharp.SKBitmap.Decode(png))
            using (var jpeg = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 90))
                File.WriteAllBytes(Path.Combine(_folder, name), jpeg.ToArray());
            File.Delete(png);
            rows[5].ImagePath = name;
        }
        return rows;
    }

    /// <summary>MapValueToKey, LoadImages from the folder, and (by default) ResizeImages to 16x16.</summary>
    private IEstimator<ITransformer> Prepare(MLContext ml, bool resize = true)
    {
        var load = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadImages("Image", _folder, "ImagePath"));
        return resize ? load.Append(ml.Transforms.ResizeImages("Image", 16, 16)) : load;
    }

    /// <summary>Cuts the file to half its bytes, as an interrupted copy or download leaves it.</summary>
    private static void CutInHalf(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    [TestMethod]
    public void CorruptImageFile_IsNamed()
    {
        var e = FitOnFiles(path => File.WriteAllText(path, "this is not a PNG"));

        StringAssert.Contains(e.Message, "could not be read");
    }

    [TestMethod]
    public void ZeroByteImageFile_IsNamed()
    {
        var e = FitOnFiles(path => File.WriteAllBytes(path, Array.Empty<byte>()));

        StringAssert.Contains(e.ToString(), "img0005.png");
    }

    [TestMethod]
    public void MissingImageFile_IsNamed()
    {
        var e = FitOnFiles(File.Delete);

        StringAssert.Contains(e.ToString(), "img0005.png");
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void TruncatedPngFile_IsRefusedBeforeTraining_NamingRowAndFile(bool resize)
    {
        var e = FitOnFiles(CutInHalf, resize: resize);

        StringAssert.Contains(e.Message, $"the file '{Path.Combine(_folder, "img0005.png")}' ends before its image data does");
        StringAssert.Contains(e.Message, "SkipUnreadableImages");
    }

    [TestMethod]
    public void TruncatedJpegFile_IsRefusedBeforeTraining_NamingRowAndFile()
    {
        var e = FitOnFiles(CutInHalf, "img0005.jpg");

        StringAssert.Contains(e.Message, $"the file '{Path.Combine(_folder, "img0005.jpg")}' ends before its image data does");
    }

    [TestMethod]
    public void IntactPngAndJpegFiles_AreNotFlagged()
    {
        var ml = new MLContext(seed: 1);
        var rows = WriteFolder("img0005.jpg");
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new TeacherOptions { Architecture = "resnet8", Epochs = 1, Seed = 1 };

        var model = Prepare(ml).Append(ml.Distillation.Teacher(options)).Fit(data);

        Assert.HasCount(12, model.Transform(data).GetColumn<uint>("PredictedLabel").ToList());
    }

    [TestMethod]
    public void SkipUnreadableImages_TrainsOnTheOtherRows_AndLogsEachSkippedFile()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var rows = WriteFolder("img0005.jpg");
        CutInHalf(Path.Combine(_folder, "img0003.png"));
        CutInHalf(Path.Combine(_folder, "img0005.jpg"));
        File.Delete(Path.Combine(_folder, "img0008.png"));
        File.WriteAllBytes(Path.Combine(_folder, "img0010.png"), []);
        var raw = ml.Data.LoadFromEnumerable(rows);
        var prepared = Prepare(ml).Fit(raw).Transform(raw);
        var metrics = new List<TrainingMetrics>();
        var options = new TeacherOptions
        {
            Architecture = "resnet8", Epochs = 1, Seed = 1, SkipUnreadableImages = true, ValidationSet = prepared, MetricsCallback = metrics.Add,
        };

        ml.Distillation.Teacher(options).Fit(prepared);

        string[] messages;
        lock (log)
            messages = log.ToArray();
        foreach (var (row, file) in new[] { (3, "img0003.png"), (5, "img0005.jpg"), (8, "img0008.png"), (10, "img0010.png") })
        {
            foreach (string role in new[] { "training", "validation" })
            {
                Assert.IsTrue(
                    messages.Any(m => m.Contains($"Teacher: {role} row {row} left out", StringComparison.Ordinal) && m.Contains(file, StringComparison.Ordinal)),
                    $"No warning names {role} row {row} ({file}):\n{string.Join("\n", messages)}");
            }
        }
        Assert.IsTrue(messages.Any(m => m.Contains($"'{Path.Combine(_folder, "img0003.png")}' ends before its image data does", StringComparison.Ordinal)));
        Assert.IsTrue(messages.Any(m => m.Contains("4 of 12 training rows left out", StringComparison.Ordinal)));
        Assert.IsTrue(messages.Any(m => m.Contains("4 of 12 validation rows left out", StringComparison.Ordinal)));
        Assert.IsTrue(messages.Any(m => m.Contains("Teacher: 8 images", StringComparison.Ordinal)), "trained on the 8 readable rows");
        Assert.HasCount(1, metrics);
    }

    [TestMethod]
    public void SkipUnreadableImages_EveryRowUnreadable_IsRefusedAsNoRows()
    {
        var ml = new MLContext(seed: 1);
        var rows = WriteFolder();
        foreach (var row in rows)
            CutInHalf(Path.Combine(_folder, row.ImagePath));
        var options = new TeacherOptions { Architecture = "resnet8", Epochs = 1, Seed = 1, SkipUnreadableImages = true };

        var e = Assert.ThrowsExactly<InvalidOperationException>(
            () => Prepare(ml).Append(ml.Distillation.Teacher(options)).Fit(ml.Data.LoadFromEnumerable(rows)));

        StringAssert.Contains(e.Message, "has no rows (12 rows with an unreadable image were left out)");
    }

    [TestMethod]
    public void SkipUnreadableImages_OneClassLeft_IsRefusedAsOneClass()
    {
        var ml = new MLContext(seed: 1);
        var rows = WriteFolder();
        string kept = rows[0].Label;
        foreach (var row in rows.Where(r => r.Label != kept))
            CutInHalf(Path.Combine(_folder, row.ImagePath));
        var options = new TeacherOptions { Architecture = "resnet8", Epochs = 1, Seed = 1, SkipUnreadableImages = true };

        var e = Assert.ThrowsExactly<InvalidOperationException>(
            () => Prepare(ml).Append(ml.Distillation.Teacher(options)).Fit(ml.Data.LoadFromEnumerable(rows)));

        StringAssert.Contains(e.Message, "rows with an unreadable image were left out) hold the same class");
    }

    [TestMethod]
    public void GreyAndColourImageFiles_Mixed_AreAllReadAsRgb()
    {
        var ml = new MLContext(seed: 1);
        var rows = RealImages.WritePngs(_folder, 12);
        // Re-encode every other file as a true 8-bit grey PNG.
        foreach (var row in rows.Where((_, i) => i % 2 == 0))
        {
            string path = Path.Combine(_folder, row.ImagePath);
            using var colour = SkiaSharp.SKBitmap.Decode(path);
            using var grey = new SkiaSharp.SKBitmap(colour.Width, colour.Height, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque);
            for (int y = 0; y < colour.Height; y++)
                for (int x = 0; x < colour.Width; x++)
                    grey.SetPixel(x, y, colour.GetPixel(x, y));
            using var data = grey.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(path, data.ToArray());
        }
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", _folder, "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Image", 16, 16))
            .Append(ml.Distillation.Teacher(new TeacherOptions { Architecture = "resnet8", Epochs = 1, Seed = 1 }));

        var model = pipeline.Fit(ml.Data.LoadFromEnumerable(rows));
        var scores = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").ToList();

        Assert.AreEqual(new ImageShape(3, 16, 16), model.LastTransformer.InputShape);
        Assert.HasCount(12, scores);
        Assert.IsTrue(scores.All(s => s.All(float.IsFinite)));
    }

    [TestMethod]
    public void LabelsSeenOnlyInTheTestSet_ScoringStillWorks()
    {
        var ml = SharedTeacher.Ml;
        var rows = ml.Data.CreateEnumerable<global::Microsoft.ML.Distillation.Samples.FashionMnistImage>(RealImages.Test(ml, 20), false).ToList();
        rows[3].Label = "Umbrella";
        rows[7].Label = "Umbrella";

        var scored = SharedTeacher.Pipeline.Transform(ml.Data.LoadFromEnumerable(rows));
        var labels = scored.GetColumn<uint>("Label").ToList();
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToList();

        Assert.AreEqual(0u, labels[3], "an unseen label becomes a missing key");
        Assert.HasCount(20, predicted);
        Assert.IsTrue(predicted.All(p => p is >= 1 and <= 10), "every row, the unseen-label ones too, gets a prediction");
    }

    [TestMethod]
    public void TruncatedOrForeignModelFile_GivesAClearError()
    {
        var ml = SharedTeacher.Ml;
        string path = Path.Combine(_folder, "teacher.zip");
        SharedTeacher.Teacher.Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
        string text = Path.Combine(_folder, "notes.txt");
        File.WriteAllText(text, "not a model");

        var truncated = Assert.ThrowsExactly<InvalidDataException>(() => ml.Distillation.LoadModel(path));
        var foreign = Assert.ThrowsExactly<InvalidDataException>(() => ml.Distillation.LoadModel(text));
        var missing = Assert.ThrowsExactly<FileNotFoundException>(() => ml.Distillation.LoadModel(Path.Combine(_folder, "none.zip")));

        StringAssert.Contains(truncated.Message, path);
        StringAssert.Contains(foreign.Message, "is not a Microsoft.ML.Distillation model");
        StringAssert.Contains(missing.Message, "none.zip");
    }

    [TestMethod]
    public void ModelOfANewerFormatVersion_IsRefused()
    {
        var ml = SharedTeacher.Ml;
        string path = Path.Combine(_folder, "teacher.zip");
        SharedTeacher.Teacher.Save(path);
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("manifest.json")!;
            string json;
            using (var reader = new StreamReader(entry.Open()))
                json = reader.ReadToEnd();
            entry.Delete();
            using var writer = new StreamWriter(zip.CreateEntry("manifest.json").Open());
            writer.Write(json.Replace("\"formatVersion\": 1", "\"formatVersion\": 7"));
        }

        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Distillation.LoadModel(path));

        StringAssert.Contains(e.Message, "model format version 7");
    }

    [TestMethod]
    public void SaveOverAnExistingFile_LeavesNoTemporaryFiles()
    {
        string path = Path.Combine(_folder, "teacher.zip");
        File.WriteAllText(path, "old content");

        SharedTeacher.Teacher.Save(path);

        CollectionAssert.AreEqual(new[] { "teacher.zip" }, Directory.GetFiles(_folder).Select(Path.GetFileName).ToArray());
        using var loaded = SharedTeacher.Ml.Distillation.LoadModel(path);
        Assert.AreEqual(SharedTeacher.Teacher.Architecture, loaded.Architecture);
    }
}
