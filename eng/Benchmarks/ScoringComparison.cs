// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>
/// CPU scoring throughput of a WRN-16-2 student (3x32x32, 100 classes) through the TorchSharp path and the ONNX path
/// (issue 4): the network alone at batch 1 and 64, and whole ML.NET pipelines over an IDataView.
/// </summary>
internal static class ScoringComparison
{
    private const int Rows = 512;

    public static ScenarioResult Run(BenchmarkOptions o)
    {
        var ml = new MLContext(seed: 1);
        var shape = new ImageShape(3, 32, 32);
        var network = NetworkRegistry.Create("wrn16_2", 3, 100);
        var normalization = ChannelNormalization.FromValues(new[] { 129f, 124f, 112f }, new[] { 68f, 65f, 70f }, 3);
        var model = new TrainedClassifier(network, "Student", new ImageColumnInfo("Image", ImageColumnKind.SingleVector, shape),
            Enumerable.Range(0, 100).Select(i => $"c{i}").ToArray(), normalization, "Score", "PredictedLabel", CPU);
        using var transformer = new ImageClassifierTransformer(ml, model);
        var random = new Random(1);
        var pixels = new float[64 * shape.Size];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = random.Next(256);
        var probabilities = new float[64 * 100];

        var results = new Dictionary<string, double>
        {
            ["TorchSharp network, batch 1"] = ImagesPerSecond(o, 1, () => model.Score(pixels, 1, probabilities)),
            ["TorchSharp network, batch 64"] = ImagesPerSecond(o, 64, () => model.Score(pixels, 64, probabilities)),
        };

        using var onnx = new MemoryStream();
        transformer.ExportOnnx(onnx);
        using var session = new InferenceSession(onnx.ToArray(), new SessionOptions { IntraOpNumThreads = o.Threads });
        foreach (int batch in new[] { 1, 64 })
        {
            var input = new DenseTensor<float>(pixels.AsMemory(0, batch * shape.Size), new[] { batch, 3, 32, 32 });
            var inputs = new[] { NamedOnnxValue.CreateFromTensor("pixels", input) };
            results[$"ONNX Runtime network, batch {batch}"] = ImagesPerSecond(o, batch, () =>
            {
                using var output = session.Run(inputs);
            });
        }

        var rows = Enumerable.Range(0, Rows).Select(r => new PixelRow { Image = pixels.AsSpan((r % 64) * shape.Size, shape.Size).ToArray() }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        results["ML.NET pipeline, TorchSharp transformer (batched cursor)"] = PipelineImagesPerSecond(o, transformer, data);
        using var converted = ml.Distillation.ConvertToOnnxScoring(transformer);
        results["ML.NET pipeline, ONNX scoring chain (row by row)"] = PipelineImagesPerSecond(o, converted, data);

        return new ScenarioResult
        {
            Name = "scoring-wrn16_2",
            Description = "WRN-16-2 scoring, TorchSharp vs ONNX Runtime",
            Scoring = results,
            PeakRssGiB = Machine.PeakRssGiB(),
        };
    }

    private static double ImagesPerSecond(BenchmarkOptions o, int batch, Action score)
    {
        for (int i = 0; i < o.Warmup; i++)
            score();
        int repeats = Math.Max(o.Steps, 256 / batch);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
            score();
        return repeats * batch / sw.Elapsed.TotalSeconds;
    }

    private static double PipelineImagesPerSecond(BenchmarkOptions o, ITransformer model, IDataView data)
    {
        _ = model.Transform(data).GetColumn<float[]>("Score").Take(64).Count();
        var sw = Stopwatch.StartNew();
        int count = model.Transform(data).GetColumn<float[]>("Score").Count();
        return count / sw.Elapsed.TotalSeconds;
    }

    private sealed class PixelRow
    {
        [VectorType(3, 32, 32)]
        public float[] Image { get; set; } = Array.Empty<float>();
    }
}
