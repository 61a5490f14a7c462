// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Onnx;

/// <summary>
/// The no-TorchSharp claim, proven with a separate process: Microsoft.ML.Distillation.OnnxServing.Check references only ML.NET,
/// its image and ONNX transforms and ONNX Runtime. It loads a model zip saved after <c>ConvertToOnnxScoring</c> and must give
/// the same Score and PredictedLabel as this process.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class OnnxScoringProcessTests
{
    private const float Tolerance = 1e-4f;

    public TestContext TestContext { get; set; } = null!;

    private static string CheckDirectory => typeof(OnnxScoringProcessTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "OnnxServingCheckDirectory").Value!;

    [TestMethod]
    public void ServingProcessWithoutTorchSharp_LoadsTheSavedPipeline_AndGivesTheSamePredictions()
    {
        string checkDll = Path.Combine(CheckDirectory, "Microsoft.ML.Distillation.OnnxServing.Check.dll");
        Assert.IsTrue(File.Exists(checkDll), $"the checker is built with the tests: {checkDll}");
        Assert.IsFalse(File.Exists(Path.Combine(CheckDirectory, "TorchSharp.dll")), "the serving app ships no TorchSharp");
        Assert.IsFalse(File.Exists(Path.Combine(CheckDirectory, "Microsoft.ML.Distillation.dll")), "nor this library");
        Assert.IsEmpty(Directory.GetFiles(CheckDirectory, "libtorch*", SearchOption.AllDirectories), "nor libtorch");

        var ml = new MLContext(seed: 3);
        string folder = Path.Combine(Path.GetTempPath(), "distillation-serving-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var rows = RealImages.WritePngs(folder, 10, skip: 100);
            var files = ml.Data.LoadFromEnumerable(rows);
            using var classifier = OnnxScoringTests.RandomImageClassifier(ml, "wrn16_1", imageSize: 32);
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

            string tsv = Path.Combine(folder, "input.tsv");
            File.WriteAllLines(tsv, ["ImagePath\tLabel", .. rows.Select(r => $"{r.ImagePath}\t{r.Label}")]);
            var expectedOutput = pipeline.Transform(files);
            var expectedScores = expectedOutput.GetColumn<float[]>("Score").ToList();
            var expectedLabels = expectedOutput.GetColumn<string>("PredictedLabel").ToList();

            var report = Run(checkDll, zip, tsv);

            Assert.IsFalse(report.TorchSharpLoaded, "no TorchSharp assembly was loaded in the serving process");
            Assert.IsFalse(report.DistillationLoaded, "nor Microsoft.ML.Distillation");
            Assert.HasCount(rows.Count, report.Rows);
            float diff = 0;
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.HasCount(expectedScores[i].Length, report.Rows[i].Score);
                diff = Math.Max(diff, expectedScores[i].Zip(report.Rows[i].Score, (a, b) => Math.Abs(a - b)).Max());
            }

            TestContext.WriteLine($"serving process vs TorchSharp, {rows.Count} rows: max |score diff| {diff:E2}");
            Assert.IsLessThan(Tolerance, diff);
            CollectionAssert.AreEqual(expectedLabels, report.Rows.Select(r => r.PredictedLabel).ToList());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Report Run(string checkDll, string zip, string tsv)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { checkDll, zip, tsv })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        // A guard against a hang only (the process takes seconds on an idle machine; loaded CI machines are much slower).
        if (!process.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the serving process did not finish within 20 minutes");
        }

        Assert.AreEqual(0, process.ExitCode, $"serving process failed: {stderr.Result}\n{stdout}");
        return JsonSerializer.Deserialize<Report>(stdout.Trim())
            ?? throw new AssertFailedException($"No report in the serving process's output: {stdout}");
    }

    private sealed class Report
    {
        public bool TorchSharpLoaded { get; set; }

        public bool DistillationLoaded { get; set; }

        public List<Row> Rows { get; set; } = [];
    }

    private sealed class Row
    {
        public float[] Score { get; set; } = [];

        public string PredictedLabel { get; set; } = "";
    }
}
