// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Selection;

/// <summary>Measures a <see cref="ModelCost"/>.</summary>
internal static class CostMeter
{
    public static ModelCost Measure(ImageClassifierTransformer model, CostMeasurementOptions? options)
    {
        options ??= new CostMeasurementOptions();
        if (options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options.BatchSize), options.BatchSize, "BatchSize must be at least 1.");
        if (options.Repetitions < 1)
            throw new ArgumentOutOfRangeException(nameof(options.Repetitions), options.Repetitions, "Repetitions must be at least 1.");
        if (options.WarmupRepetitions < 0)
            throw new ArgumentOutOfRangeException(nameof(options.WarmupRepetitions), options.WarmupRepetitions, "WarmupRepetitions must be 0 or more.");

        var classifier = model.Model;
        var shape = classifier.Shape;
        double flops = FlopCounter.ForwardFlops(classifier.Network, shape.Channels, shape.Height, shape.Width, includeAuxiliary: false);
        long modelBytes = Bytes(model.Save);
        long? onnxBytes;
        try
        {
            onnxBytes = Bytes(model.ExportOnnx);
        }
        catch (NotSupportedException)
        {
            onnxBytes = null;
        }

        double? single = null, batched = null;
        string by = "not measured";
        if (options.MeasureLatency)
        {
            if (options.LatencyProbe is { } probe)
            {
                single = probe(model, 1);
                batched = probe(model, options.BatchSize);
                by = options.LatencyProbeName;
            }
            else if (options.Engine == LatencyEngine.OnnxRuntime)
            {
                int threads = torch.get_num_threads();
                using var session = OnnxSession(model, threads);
                single = OnnxLatency(session, shape, 1, options);
                batched = OnnxLatency(session, shape, options.BatchSize, options);
                by = $"ONNX Runtime, {threads} intra-op threads, CPU";
            }
            else
            {
                single = TorchLatency(classifier, 1, options);
                batched = TorchLatency(classifier, options.BatchSize, options);
                by = $"TorchSharp eval forward, {torch.get_num_threads()} threads, {classifier.Device.type}";
            }
        }

        return new ModelCost(model.InferenceParameterCount, flops, modelBytes, onnxBytes, single, batched, options.BatchSize, by);
    }

    private static InferenceSession OnnxSession(ImageClassifierTransformer model, int threads)
    {
        using var stream = new MemoryStream();
        try
        {
            model.ExportOnnx(stream);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException(
                $"CostMeasurementOptions.Engine is OnnxRuntime, but the {model.Model.Network.Architecture} model has no ONNX export ({e.Message}). Use LatencyEngine.TorchSharp.", e);
        }

        return new InferenceSession(stream.ToArray(), new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 });
    }

    /// <summary>Median milliseconds per image of the ONNX Runtime session on a batch of <paramref name="batchSize"/> zero images.</summary>
    private static double OnnxLatency(InferenceSession session, ImageShape shape, int batchSize, CostMeasurementOptions options)
    {
        string input = session.InputMetadata.Keys.Single();
        var pixels = new DenseTensor<float>(new[] { batchSize, shape.Channels, shape.Height, shape.Width });
        var inputs = new[] { NamedOnnxValue.CreateFromTensor(input, pixels) };
        var times = new double[options.Repetitions];
        for (int i = -options.WarmupRepetitions; i < options.Repetitions; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using (session.Run(inputs))
            {
            }

            if (i >= 0)
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / batchSize;
        }

        return Median(times);
    }

    private static double Median(double[] times)
    {
        Array.Sort(times);
        return times.Length % 2 == 1 ? times[times.Length / 2] : (times[times.Length / 2 - 1] + times[times.Length / 2]) / 2;
    }

    private static long Bytes(Action<Stream> write)
    {
        using var stream = new MemoryStream();
        write(stream);
        return stream.Length;
    }

    /// <summary>Median milliseconds per image of the network's eval forward (backbone and main head) on a batch of <paramref name="batchSize"/>.</summary>
    private static double TorchLatency(TrainedClassifier classifier, int batchSize, CostMeasurementOptions options)
    {
        var network = classifier.Network;
        var shape = classifier.Shape;
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var noGrad = no_grad();
            using var input = zeros(new long[] { batchSize, shape.Channels, shape.Height, shape.Width }, device: classifier.Device);
            var times = new double[options.Repetitions];
            for (int i = -options.WarmupRepetitions; i < options.Repetitions; i++)
            {
                long start = Stopwatch.GetTimestamp();
                using (var scope = NewDisposeScope())
                {
                    var logits = network.ForwardLogits(input);
                    if (classifier.Device.type != DeviceType.CPU)
                        logits.cpu();
                }

                if (i >= 0)
                    times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / batchSize;
            }

            return Median(times);
        }
        finally
        {
            network.train(wasTraining);
        }
    }
}
