// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Onnx;

/// <summary>
/// An ONNX classifier as a frozen teacher (<c>LoadOnnxTeacher</c>): the shared TorchSharp teacher exported to ONNX must teach a
/// student exactly as the TorchSharp teacher does, and every mismatch must fail before training.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class OnnxTeacherTests
{
    private static string s_folder = "";

    /// <summary>The shared teacher as written by ExportOnnx (raw pixels in, normalised inside, metadata).</summary>
    private static string Exported => Path.Combine(s_folder, "teacher.onnx");

    /// <summary>The same network as a bare graph: normalised input 'input', no metadata (a file from elsewhere).</summary>
    private static string Bare => Path.Combine(s_folder, "bare.onnx");

    /// <summary>The ML.NET-scoring variant: batch fixed at 1, probabilities [K] (squeezed, output "scores"): the teacher runs it one image at a time.</summary>
    private static string FixedBatch => Path.Combine(s_folder, "fixed-batch.onnx");

    [ClassInitialize]
    public static void Export(TestContext _)
    {
        s_folder = Path.Combine(Path.GetTempPath(), $"onnx-teacher-{Guid.NewGuid():N}");
        Directory.CreateDirectory(s_folder);
        SharedTeacher.Teacher.ExportOnnx(Exported);
        var model = SharedTeacher.Teacher.Model;
        using (var bare = File.Create(Bare))
            OnnxExporter.ForNetwork(model.Network, model.Shape).WriteTo(bare);
        using var fixedBatch = File.Create(FixedBatch);
        OnnxExporter.ForMLNetScoring(model, OnnxExporter.PixelsInput, "scores", "index").WriteTo(fixedBatch);
    }

    [ClassCleanup]
    public static void Delete() => Directory.Delete(s_folder, recursive: true);

    private static KdOptions Student(int epochs = 1) => new()
    {
        Architecture = "resnet8",
        Epochs = epochs,
        BatchSize = 32,
        Seed = 3,
        NumberOfThreads = 2,
    };

    private static TrainingMetrics DistilOneEpoch(ITransformer teacher)
    {
        var ml = SharedTeacher.Ml;
        var metrics = new List<TrainingMetrics>();
        var options = Student();
        options.MetricsCallback = metrics.Add;
        var keys = SharedTeacher.Pipeline.First();
        ml.Distillation.Kd(teacher, options).Fit(keys.Transform(RealImages.Train(ml, 128)));
        return metrics.Single();
    }

    private OnnxTeacherOptions BareOptions()
    {
        var model = SharedTeacher.Teacher.Model;
        return new OnnxTeacherOptions
        {
            ClassNames = model.ClassNames,
            Mean = [.. model.Normalization.Mean],
            Std = [.. model.Normalization.Std],
        };
    }

    [TestMethod]
    public void ExportedTeacher_GivesTheTorchSharpTeachersLogits_OnANormalisedBatch()
    {
        var model = SharedTeacher.Teacher.Model;
        using var onnx = SharedTeacher.Ml.Distillation.LoadOnnxTeacher(Exported);
        using var scope = NewDisposeScope();
        using var generator = random.manual_seed(9);
        var pixels = randint(0, 256, new long[] { 5, model.Shape.Channels, model.Shape.Height, model.Shape.Width }).to(ScalarType.Byte);
        var batch = model.Normalization.Normalize(pixels);

        Tensor expected, actual;
        using (no_grad())
        {
            model.Network.eval();
            expected = model.Network.ForwardLogits(batch);
            actual = onnx.Model.Network.ForwardLogits(batch);
        }

        CollectionAssert.AreEqual(model.ClassNames, onnx.Model.ClassNames, "class names from the metadata");
        CollectionAssert.AreEqual(model.Normalization.Mean.ToArray(), onnx.Model.Normalization.Mean.ToArray(), "normalisation from the metadata");
        Assert.AreEqual(model.Shape, onnx.Model.Shape);
        double difference = (expected - actual).abs().max().item<float>();
        Assert.IsLessThan(1e-4, difference, $"largest logit difference {difference:E2}");
    }

    [TestMethod]
    public void KdFromTheOnnxExport_HasTheLossTermsOfKdFromTheTorchSharpTeacher()
    {
        using var onnx = SharedTeacher.Ml.Distillation.LoadOnnxTeacher(Exported);
        using var bare = SharedTeacher.Ml.Distillation.LoadOnnxTeacher(Bare, BareOptions());
        var probabilities = new OnnxTeacherOptions { OutputName = OnnxExporter.ProbabilitiesOutput, OutputKind = OnnxTeacherOutputKind.Probabilities };
        using var fromProbabilities = SharedTeacher.Ml.Distillation.LoadOnnxTeacher(Exported, probabilities);
        using var oneAtATime = SharedTeacher.Ml.Distillation.LoadOnnxTeacher(FixedBatch, new OnnxTeacherOptions { OutputName = "scores", OutputKind = OnnxTeacherOutputKind.Probabilities });

        var reference = DistilOneEpoch(SharedTeacher.Pipeline);
        foreach (var (name, teacher) in new[] { ("exported", (ITransformer)onnx), ("bare graph", bare), ("probabilities", fromProbabilities), ("batch fixed at 1", oneAtATime) })
        {
            var metrics = DistilOneEpoch(teacher);
            foreach (var (term, value) in reference.LossTerms)
                Assert.AreEqual(value, metrics.LossTerms[term], 1e-4 * Math.Max(1, Math.Abs(value)), $"{name}: term '{term}'");
        }
    }

    [TestMethod]
    public void WrongInputName_IsRefusedListingTheInputs()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() =>
            SharedTeacher.Ml.Distillation.LoadOnnxTeacher(Exported, new OnnxTeacherOptions { InputName = "images" }));

        Assert.AreEqual(nameof(OnnxTeacherOptions.InputName), e.ParamName);
        StringAssert.Contains(e.Message, "has no input 'images'; its inputs are 'pixels' Single [?, 1, 28, 28]");
    }

    [TestMethod]
    public void WrongShape_IsRefusedWithExpectedAndActualShapes()
    {
        var ml = SharedTeacher.Ml;
        var stated = Assert.ThrowsExactly<ArgumentException>(() =>
            ml.Distillation.LoadOnnxTeacher(Exported, new OnnxTeacherOptions { InputShape = new ImageShape(3, 32, 32) }));
        var nhwc = Assert.ThrowsExactly<ArgumentException>(() =>
            ml.Distillation.LoadOnnxTeacher(Exported, new OnnxTeacherOptions { Layout = OnnxImageLayout.Nhwc }));
        using var teacher = ml.Distillation.LoadOnnxTeacher(Exported);
        var folder = Path.Combine(s_folder, "png");
        var rows = RealImages.WritePngs(folder, 16);
        var keyed = SharedTeacher.Pipeline.First().Transform(ml.Data.LoadFromEnumerable(rows)); // the teacher's label keys
        var colour = ml.Transforms.LoadImages("Image", folder, nameof(RealImages.ImageFileRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", 32, 32));
        var data = colour.Fit(keyed).Transform(keyed);
        var fit = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Kd(teacher, Student()).Fit(data));

        StringAssert.Contains(stated.Message, "InputShape is 3x32x32 but input 'pixels' is [?, 1, 28, 28] (Nchw)");
        StringAssert.Contains(nhwc.Message, "its metadata gives the input shape 1x28x28, but input 'pixels' read as Nhwc is 28x1x28");
        StringAssert.Contains(fit.Message, "holds 3x32x32 images, but the teacher was trained on 1x28x28");
    }

    [TestMethod]
    public void BareGraph_WithoutClassNames_IsRefused_AndItsOutputCountChecked()
    {
        var ml = SharedTeacher.Ml;
        var missing = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.LoadOnnxTeacher(Bare));
        var options = BareOptions();
        options.ClassNames = ["a", "b", "c"];
        var count = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.LoadOnnxTeacher(Bare, options));

        StringAssert.Contains(missing.Message, "does not name its classes (no 'classNames' metadata)");
        Assert.AreEqual(nameof(OnnxTeacherOptions.OutputName), count.ParamName);
        StringAssert.Contains(count.Message, "output 'logits' is Single [?, 10], but 3 classes are named; expected [N, 3]");
    }

    [TestMethod]
    public void MethodsThatReadMoreThanLogits_RefuseAnOnnxTeacher()
    {
        var ml = SharedTeacher.Ml;
        using var teacher = ml.Distillation.LoadOnnxTeacher(Exported);

        var hsakd = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Hsakd(teacher, new HsakdOptions { Architecture = "resnet8" }));
        var sp = Assert.ThrowsExactly<ArgumentException>(() =>
            ml.Distillation.Sp(teacher, new SpOptions { Architecture = "resnet8", Epochs = 1 }).Fit(SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 32))));
        var save = Assert.ThrowsExactly<NotSupportedException>(() => teacher.Save(Path.Combine(s_folder, "teacher.zip")));

        StringAssert.Contains(hsakd.Message, "the teacher is an ONNX model, which gives logits only");
        StringAssert.Contains(sp.Message, "SP reads more of the teacher than its logits");
        StringAssert.Contains(save.Message, "An ONNX teacher cannot be saved");
        Assert.IsFalse(File.Exists(Path.Combine(s_folder, "teacher.zip")), "nothing is left behind");
    }
}
