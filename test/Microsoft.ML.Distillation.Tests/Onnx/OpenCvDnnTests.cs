// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Distillation.Tests.Onnx;

[TestClass]
[DoNotParallelize]
public sealed class OpenCvDnnTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>
    /// Every zoo network's export (raw pixels in, normalisation in the graph) runs in OpenCV's DNN module at batch 1 and batch 7 and
    /// gives ONNX Runtime's probabilities. Needs Debian's python3-opencv (OpenCV 4.6); skipped with a message where it is missing.
    /// </summary>
    [TestMethod]
    public void EveryZooNetwork_RunsInOpenCvDnn_AtBatchOneAndSeven_LikeOnnxRuntime()
    {
        string? python = SourceTree.PythonThatCan("import cv2, numpy");
        if (python is null)
            Assert.Inconclusive("python3-opencv is not installed (apt-get install python3-opencv): the OpenCV DNN check did not run.");
        string script = Path.Combine(SourceTree.Root, "eng", "check-opencv-dnn.py");
        string folder = Directory.CreateTempSubdirectory("distill-opencv-").FullName;
        try
        {
            var ml = new MLContext(seed: 1);
            var manifest = new List<object>();
            var random = new Random(5);
            const int batch = 7, size = 32;
            foreach (string name in NetworkRegistry.Names)
            {
                using var classifier = OnnxScoringTests.RandomImageClassifier(ml, name, imageSize: size);
                string file = name + ".onnx";
                classifier.ExportOnnx(Path.Combine(folder, file));
                var pixels = new float[batch * 3 * size * size];
                for (int i = 0; i < pixels.Length; i++)
                    pixels[i] = random.Next(256);
                using var session = new InferenceSession(Path.Combine(folder, file));
                using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", new DenseTensor<float>(pixels, [batch, 3, size, size]))]);
                var probabilities = results.Single(r => r.Name == "probabilities").AsEnumerable<float>().ToArray();
                File.WriteAllBytes(Path.Combine(folder, name + ".input.bin"), pixels.SelectMany(BitConverter.GetBytes).ToArray());
                File.WriteAllBytes(Path.Combine(folder, name + ".expected.bin"), probabilities.SelectMany(BitConverter.GetBytes).ToArray());
                manifest.Add(new { name, file, input = name + ".input.bin", expected = name + ".expected.bin", shape = new[] { batch, 3, size, size } });
            }
            File.WriteAllText(Path.Combine(folder, "manifest.json"), JsonSerializer.Serialize(manifest));

            var lines = Run(python, script, folder);

            var failures = new List<string>();
            int checkedRuns = 0;
            foreach (string line in lines.Skip(1))
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                string what = $"{root.GetProperty("name").GetString()} batch {root.GetProperty("batch").GetInt32()}";
                if (root.TryGetProperty("error", out var error))
                    failures.Add($"{what}: {error.GetString()}");
                else if (root.GetProperty("maxdiff").GetDouble() is double d && !(d <= 1e-5))
                    failures.Add($"{what}: max |difference| {d:E2}");
                else
                    checkedRuns++;
            }
            TestContext.WriteLine(string.Join(Environment.NewLine, lines));
            Assert.IsEmpty(failures, string.Join(Environment.NewLine, failures));
            Assert.AreEqual(2 * NetworkRegistry.Names.Count, checkedRuns);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static List<string> Run(string python, string script, string folder)
    {
        using var process = Process.Start(new ProcessStartInfo(python, [script, folder]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stderr = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line)
            lines.Add(line);
        process.WaitForExit();
        Assert.AreEqual(0, process.ExitCode, stderr.Result);
        return lines;
    }
}
