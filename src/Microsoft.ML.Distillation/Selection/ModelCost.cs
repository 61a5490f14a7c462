// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;

namespace Microsoft.ML.Distillation;

/// <summary>
/// What a fitted model costs to ship and run: size, arithmetic and measured latency. Get it from
/// <see cref="ImageClassifierTransformer.MeasureCost"/>; a <see cref="StudentSweep"/> measures it for every trial.
/// </summary>
/// <param name="Parameters">Parameters used at inference (backbone and main head; training-only auxiliary branches excluded).</param>
/// <param name="FlopsPerImage">Floating-point operations of one forward pass of one image: 2 per multiply-add of every convolution and
/// linear layer (batch norms, activations and pooling not counted, as in the papers' tables).</param>
/// <param name="ModelBytes">Size of the model file <see cref="ImageClassifierTransformer.Save(string)"/> writes.</param>
/// <param name="OnnxBytes">Size of the ONNX file <see cref="ImageClassifierTransformer.ExportOnnx(string)"/> writes, or null when the
/// architecture has no ONNX export.</param>
/// <param name="LatencyMilliseconds">Median time of one forward pass of a single image (batch 1), in milliseconds; null when latency
/// was not measured.</param>
/// <param name="BatchLatencyMilliseconds">Median time per image of a forward pass of <paramref name="LatencyBatchSize"/> images, in
/// milliseconds; null when latency was not measured.</param>
/// <param name="LatencyBatchSize">The batch size of <paramref name="BatchLatencyMilliseconds"/>.</param>
/// <param name="LatencyMeasuredBy">What ran the forward passes ("TorchSharp eval forward, 2 threads, CPU", "ONNX Runtime, 2 intra-op
/// threads, CPU", or the user's probe's name).</param>
public sealed record ModelCost(
    long Parameters, double FlopsPerImage, long ModelBytes, long? OnnxBytes, double? LatencyMilliseconds, double? BatchLatencyMilliseconds,
    int LatencyBatchSize, string LatencyMeasuredBy)
{
    /// <summary>One line: parameters, MFLOPs, sizes and latencies.</summary>
    public override string ToString()
        => FormattableString.Invariant($"{Parameters:N0} parameters, {FlopsPerImage / 1e6:F1} MFLOPs/image, model {ModelBytes / 1024.0:F0} KiB")
            + (OnnxBytes is long onnx ? FormattableString.Invariant($", ONNX {onnx / 1024.0:F0} KiB") : "")
            + (LatencyMilliseconds is double l ? FormattableString.Invariant($", {l:F2} ms at batch 1") : "")
            + (BatchLatencyMilliseconds is double b ? FormattableString.Invariant($", {b:F3} ms/image at batch {LatencyBatchSize}") : "");
}

/// <summary>What runs the forward passes that <see cref="ImageClassifierTransformer.MeasureCost"/> times.</summary>
public enum LatencyEngine
{
    /// <summary>The model's own TorchSharp network in eval mode, on its device, with the process's torch thread count.</summary>
    TorchSharp,

    /// <summary>
    /// An ONNX Runtime session (CPU) on the model's ONNX export (<see cref="ImageClassifierTransformer.ExportOnnx(Stream)"/>: raw
    /// pixels in, normalisation folded into the graph), with as many intra-op threads as torch uses: what a serving application that
    /// ships the ONNX file would see. Models whose architecture has no ONNX export are refused.
    /// </summary>
    OnnxRuntime,
}

/// <summary>How <see cref="ImageClassifierTransformer.MeasureCost"/> measures latency.</summary>
public sealed class CostMeasurementOptions
{
    /// <summary>Measure latency (default true). False gives the static figures only (parameters, FLOPs, sizes), which are exact and fast.</summary>
    public bool MeasureLatency = true;

    /// <summary>Images per forward pass for the batched latency. Default 32.</summary>
    public int BatchSize = 32;

    /// <summary>Timed forward passes per batch size; the median is reported. Default 10.</summary>
    public int Repetitions = 10;

    /// <summary>Untimed forward passes before timing (allocator and kernel warm-up). Default 3.</summary>
    public int WarmupRepetitions = 3;

    /// <summary>What runs the timed forward passes: the TorchSharp network (default) or ONNX Runtime on the exported model.</summary>
    public LatencyEngine Engine = LatencyEngine.TorchSharp;

    /// <summary>
    /// Optional probe that measures latency the way the application will run the model (for example an ONNX Runtime session on the
    /// exported file with the application's own session options): given the fitted model and a batch size, it returns the median
    /// milliseconds per image. When set, it replaces <see cref="Engine"/>. Null (default): <see cref="Engine"/> runs the passes.
    /// </summary>
    public Func<ImageClassifierTransformer, int, double>? LatencyProbe;

    /// <summary>The probe's name, recorded in <see cref="ModelCost.LatencyMeasuredBy"/>. Default "custom probe".</summary>
    public string LatencyProbeName = "custom probe";
}
