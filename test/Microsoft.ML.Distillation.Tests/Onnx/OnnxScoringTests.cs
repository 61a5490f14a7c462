// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Onnx;

/// <summary>
/// Deployment without TorchSharp: <see cref="ImageClassifierTransformer.ExportOnnx(string)"/> for ONNX Runtime users, and
/// <see cref="DistillationCatalog.ConvertToOnnxScoring"/> for pipelines saved with <c>mlContext.Model.Save</c>.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class OnnxScoringTests
{
    private const float Tolerance = 1e-4f;

    private readonly List<string> _folders = [];

    public TestContext TestContext { get; set; } = null!;

    [TestCleanup]
    public void DeleteTempFolders()
    {
        foreach (string folder in _folders)
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void ExportOnnx_TakesRawPixels_AndGivesTheTransformersProbabilities()
    {
        var ml = SharedTeacher.Ml;
        var teacher = SharedTeacher.Teacher;
        var rows = FashionMnist.Read(RealImages.Folder, "t10k", 9).ToList();
        var expected = SharedTeacher.Pipeline.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").ToList();
        string folder = TempFolder();
        string path = Path.Combine(folder, "teacher.onnx");

        teacher.ExportOnnx(path);

        CollectionAssert.AreEqual(new[] { "teacher.onnx" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray(), "no temporary file left");
        using var session = new InferenceSession(path);
        Assert.AreEqual("pixels", session.InputMetadata.Keys.Single());
        CollectionAssert.AreEqual(new[] { -1, 1, 28, 28 }, session.InputMetadata["pixels"].Dimensions);
        CollectionAssert.AreEqual(teacher.ClassNames.ToArray(),
            JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap["classNames"]));
        Assert.AreEqual("1x28x28", session.ModelMetadata.CustomMetadataMap["inputShape"]);

        var pixels = new DenseTensor<float>(rows.SelectMany(r => r.Image.Select(b => (float)b)).ToArray(), [rows.Count, 1, 28, 28]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", pixels)]);
        float[] probabilities = [.. results.Single(r => r.Name == "probabilities").AsEnumerable<float>()];
        float diff = MaxAbsDiff([.. expected.SelectMany(s => s)], probabilities);
        TestContext.WriteLine($"ExportOnnx vs Transform, 9 rows: max |score diff| {diff:E2}");
        Assert.IsLessThan(Tolerance, diff);
    }

    [TestMethod]
    public void ExportOnnx_ToAStream_WritesTheSameModelAsToAFile()
    {
        string path = Path.Combine(TempFolder(), "teacher.onnx");
        SharedTeacher.Teacher.ExportOnnx(path);
        using var stream = new MemoryStream();
        SharedTeacher.Teacher.ExportOnnx(stream);

        CollectionAssert.AreEqual(File.ReadAllBytes(path), stream.ToArray());
    }

    [TestMethod]
    public void ConvertedPipeline_SavedAndLoaded_GivesTheSameScoresAndLabels_ForByteVectors()
    {
        var ml = SharedTeacher.Ml;
        var test = RealImages.Test(ml, 40);
        string zip = Path.Combine(TempFolder(), "model.zip");

        using (var servable = ml.Distillation.ConvertToOnnxScoring(SharedTeacher.Pipeline))
        {
            Assert.IsFalse(Flatten(servable).OfType<ImageClassifierTransformer>().Any(), "the classifier is replaced");
            ml.Model.Save(servable, SharedTeacher.Train.Schema, zip);
        }

        var loaded = ml.Model.Load(zip, out var inputSchema);
        try
        {
            Assert.IsNotNull(inputSchema.GetColumnOrNull("Image"));
            var expected = Predictions(ml, SharedTeacher.Pipeline, test);
            var actual = Predictions(ml, loaded, test);
            AssertSamePredictions(expected, actual, "byte-vector pipeline after Save/Load");

            var scored = loaded.Transform(test);
            Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 10), scored.Schema["Score"].Type);
            Assert.AreEqual(new KeyDataViewType(typeof(uint), 10), scored.Schema["PredictedLabel"].Type);
            Assert.IsNull(scored.Schema.GetColumnOrNull(OnnxScoringChain.PixelsColumn), "intermediate columns are dropped");
            Assert.IsNull(scored.Schema.GetColumnOrNull(OnnxScoringChain.ClassHashColumn), "intermediate columns are dropped");
            var metrics = ml.MulticlassClassification.Evaluate(scored);
            var original = ml.MulticlassClassification.Evaluate(SharedTeacher.Pipeline.Transform(test));
            Assert.AreEqual(original.MicroAccuracy, metrics.MicroAccuracy, 1e-9, "the evaluator sees the same predictions");
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void ConvertedPipeline_WithLoadImagesResizeAndMapKeyToValue_RoundTripsThroughModelSave()
    {
        var ml = new MLContext(seed: 2);
        string folder = TempFolder();
        var files = ml.Data.LoadFromEnumerable(RealImages.WritePngs(folder, 12));
        using var classifier = RandomImageClassifier(ml, "resnet8", imageSize: 32);
        var prep = ml.Transforms.LoadImages("Image", imageFolder: folder, inputColumnName: "ImagePath")
            .Append(ml.Transforms.ResizeImages("Image", imageWidth: 32, imageHeight: 32))
            .Fit(files);
        var scored = classifier.Transform(prep.Transform(files));
        var toNames = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored);
        var pipeline = new TransformerChain<ITransformer>([.. prep, classifier, toNames]);
        string zip = Path.Combine(folder, "model.zip");

        using (var servable = ml.Distillation.ConvertToOnnxScoring(pipeline))
        {
            ml.Model.Save(servable, files.Schema, zip);
        }

        var loaded = ml.Model.Load(zip, out _);
        try
        {
            var output = loaded.Transform(files);
            Assert.AreEqual(TextDataViewType.Instance, output.Schema["PredictedLabel"].Type, "MapKeyToValue after the model gives class names");
            var expectedScores = pipeline.Transform(files).GetColumn<float[]>("Score").ToList();
            var expectedLabels = pipeline.Transform(files).GetColumn<string>("PredictedLabel").ToList();
            var actualScores = output.GetColumn<float[]>("Score").ToList();
            var actualLabels = output.GetColumn<string>("PredictedLabel").ToList();

            float diff = MaxAbsDiff([.. expectedScores.SelectMany(s => s)], [.. actualScores.SelectMany(s => s)]);
            TestContext.WriteLine($"image pipeline after Save/Load, 12 rows: max |score diff| {diff:E2}; labels {string.Join(", ", actualLabels)}");
            Assert.IsLessThan(Tolerance, diff);
            CollectionAssert.AreEqual(expectedLabels, actualLabels);
            Assert.IsGreaterThan(1, actualLabels.Distinct().Count(), "the random network does not predict one class everywhere");
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void ConvertedModel_ForFloatPixelVectors_GivesTheSameScoresAndLabels_AfterSaveAndLoad()
    {
        var ml = new MLContext(seed: 4);
        var shape = new ImageShape(3, 32, 32);
        var generator = new Random(5);
        var rows = Enumerable.Range(0, 8)
            .Select(_ => new FloatPixels { Pixels = [.. Enumerable.Range(0, shape.Size).Select(_ => (float)(generator.NextDouble() * 255))] })
            .ToList();
        var definition = SchemaDefinition.Create(typeof(FloatPixels));
        definition["Pixels"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, 32, 32);
        var data = ml.Data.LoadFromEnumerable(rows, definition);
        using var classifier = RandomClassifier(ml, "vgg8", new ImageColumnInfo("Pixels", ImageColumnKind.SingleVector, shape));
        string zip = Path.Combine(TempFolder(), "model.zip");

        using (var servable = ml.Distillation.ConvertToOnnxScoring(classifier))
        {
            ml.Model.Save(servable, data.Schema, zip);
        }

        var loaded = ml.Model.Load(zip, out _);
        try
        {
            AssertSamePredictions(Predictions(ml, classifier, data), Predictions(ml, loaded, data), "float-vector model after Save/Load");
            Assert.IsNotNull(loaded.Transform(data).Schema.GetColumnOrNull("Pixels"), "the input column passes through");
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [TestMethod]
    public void ConvertToOnnxScoring_KeepsScopes_AndRejectsAModelWithoutAClassifier()
    {
        var ml = SharedTeacher.Ml;
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label").Fit(SharedTeacher.Train);
        var chain = new TransformerChain<ImageClassifierTransformer>(
            [toKey, SharedTeacher.Teacher], [TransformerScope.TrainTest, TransformerScope.Everything]);

        using var converted = ml.Distillation.ConvertToOnnxScoring(chain);

        Assert.AreSame(toKey, converted.First(), "other transformers are kept as they are");
        Assert.HasCount(1, converted.GetModelFor(TransformerScope.Scoring), "the label conversion stays out of the scoring scope");
        Assert.HasCount(2, converted.GetModelFor(TransformerScope.Training));
        var error = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.ConvertToOnnxScoring(toKey));
        StringAssert.Contains(error.Message, nameof(ImageClassifierTransformer));
    }

    [TestMethod]
    public void TruncatedFiles_GiveClearErrors()
    {
        var ml = SharedTeacher.Ml;
        string folder = TempFolder();

        string checkpoint = Path.Combine(folder, "teacher.model");
        SharedTeacher.Teacher.Save(checkpoint);
        Truncate(checkpoint);
        var error = Assert.ThrowsExactly<InvalidDataException>(() => ml.Distillation.LoadModel(checkpoint, ComputeDevice.Cpu));
        StringAssert.Contains(error.Message, checkpoint);

        string zip = Path.Combine(folder, "model.zip");
        using (var servable = ml.Distillation.ConvertToOnnxScoring(SharedTeacher.Teacher))
        {
            ml.Model.Save(servable, SharedTeacher.Train.Schema, zip);
        }

        Truncate(zip);
        // ML.NET's own loader, not ours: a managed exception that says what is wrong, no native crash.
        var mlnetError = Assert.ThrowsExactly<FormatException>(() => ml.Model.Load(zip, out _));
        StringAssert.Contains(mlnetError.Message, "zip");
    }

    /// <summary>A classifier over MLImage columns with a random resnet whose batch norms have random statistics (no training needed).</summary>
    internal static ImageClassifierTransformer RandomImageClassifier(MLContext ml, string architecture, int imageSize)
        => RandomClassifier(ml, architecture, new ImageColumnInfo("Image", ImageColumnKind.Image, new ImageShape(3, imageSize, imageSize)));

    /// <summary>A classifier over <paramref name="column"/> with a random network whose batch norms have random statistics.</summary>
    internal static ImageClassifierTransformer RandomClassifier(MLContext ml, string architecture, ImageColumnInfo column)
    {
        var shape = column.Shape!.Value;
        random.manual_seed(21);
        var network = NetworkRegistry.Create(architecture, shape.Channels, FashionMnistImage.ClassNames.Length);
        using (no_grad())
        {
            foreach (var norm in network.Backbone.modules().OfType<BatchNorm2d>())
            {
                norm.weight!.uniform_(0.5, 1.5);
                norm.bias!.uniform_(-0.5, 0.5);
                norm.running_mean!.uniform_(-0.5, 0.5);
                norm.running_var!.uniform_(0.5, 2.0);
            }
        }

        var normalization = ChannelNormalization.FromValues(
            [.. Enumerable.Range(0, shape.Channels).Select(c => 120f - 10 * c)], [.. Enumerable.Range(0, shape.Channels).Select(c => 60f + 5 * c)], shape.Channels);
        var model = new TrainedClassifier(network, "Student", column, FashionMnistImage.ClassNames, normalization, "Score", "PredictedLabel", CPU);
        return new ImageClassifierTransformer(ml, model);
    }

    private static List<(float[] Score, string Label)> Predictions(MLContext ml, ITransformer model, IDataView data)
    {
        var scored = model.Transform(data);
        var named = ml.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(scored).Transform(scored);
        return named.GetColumn<float[]>("Score").Zip(named.GetColumn<string>("PredictedName")).ToList();
    }

    private void AssertSamePredictions(List<(float[] Score, string Label)> expected, List<(float[] Score, string Label)> actual, string context)
    {
        Assert.HasCount(expected.Count, actual, context);
        float diff = MaxAbsDiff([.. expected.SelectMany(p => p.Score)], [.. actual.SelectMany(p => p.Score)]);
        TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{context}, {expected.Count} rows: max |score diff| {diff:E2}"));
        Assert.IsLessThan(Tolerance, diff, context);
        CollectionAssert.AreEqual(expected.Select(p => p.Label).ToList(), actual.Select(p => p.Label).ToList(), context);
    }

    private sealed class FloatPixels
    {
        public float[] Pixels { get; set; } = [];
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer)
        => transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [transformer];

    private static void Truncate(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    private static float MaxAbsDiff(float[] expected, float[] actual)
    {
        Assert.HasCount(expected.Length, actual);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }

    private string TempFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "distillation-onnx-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        _folders.Add(folder);
        return folder;
    }
}
