// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// A fitted image classifier (a teacher or a distilled student). <see cref="Transform(IDataView)"/> appends
/// <c>Score</c> (class probabilities) and <c>PredictedLabel</c> (a key carrying the training label's names), the columns every
/// ML.NET multiclass evaluator and <c>PredictionEngine</c> expect.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | image column (input) | `MLImage` of the trained size, or known-size `Vector<Single>` / `Vector<Byte>` of C x H x W | the image to classify |
/// | `Score` (output) | `Vector<Single>` of K | class probabilities, summing to 1 |
/// | `PredictedLabel` (output) | key of K values | the most probable class; KeyValues are the training label's names |
///
/// Scoring runs in batches of <see cref="ScoringBatchSize"/> rows when the cursor is not shuffled, otherwise one row at a time.
/// Save with <see cref="Save(string)"/> and load with <c>mlContext.Distillation.LoadModel</c> (a training checkpoint: TorchSharp
/// weights and the auxiliary branches). To deploy without TorchSharp, write an ONNX file with <see cref="ExportOnnx(string)"/>, or
/// turn the fitted pipeline into ML.NET's own savable transforms with <c>mlContext.Distillation.ConvertToOnnxScoring</c> and
/// persist it with <c>mlContext.Model.Save</c>.
/// ]]></format>
/// </remarks>
public sealed class ImageClassifierTransformer : ITransformer, IDisposable
{
    internal ImageClassifierTransformer(IHostEnvironment env, TrainedClassifier model)
    {
        ArgumentNullException.ThrowIfNull(env);
        Model = model;
    }

    internal TrainedClassifier Model { get; }

    /// <summary>Rows scored per forward pass when the cursor allows it. Default 64.</summary>
    public int ScoringBatchSize { get; set; } = 64;

    /// <summary>The network's registry name, e.g. <c>wrn40_2</c>.</summary>
    public string Architecture => Model.Network.Architecture;

    /// <summary>The class names, in key order (key value i+1 is <c>ClassNames[i]</c>).</summary>
    public IReadOnlyList<string> ClassNames => Model.ClassNames;

    /// <summary>Channels, height and width of the images the network reads.</summary>
    public ImageShape InputShape => Model.Shape;

    /// <summary>The image column this model reads.</summary>
    public string ImageColumnName => Model.ImageColumn.Name;

    /// <summary>Number of parameters used at inference (backbone and main head; auxiliary branches excluded).</summary>
    public long InferenceParameterCount => Model.Network.Backbone.parameters().Sum(p => p.numel());

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        Model.ImageColumnFor(inputSchema, nameof(inputSchema));
        return ScoredSchema.Build(inputSchema, Model);
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var image = Model.ImageColumnFor(input.Schema, nameof(input));
        return new ScoredDataView(input, Model, image, ScoringBatchSize);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var image = Model.ImageColumnFor(inputSchema, nameof(inputSchema));
        return new ScoringRowMapper(inputSchema, Model, image);
    }

    /// <summary>
    /// ML.NET's model zip cannot hold a TorchSharp network through public API. Convert the fitted pipeline with
    /// <c>mlContext.Distillation.ConvertToOnnxScoring(model)</c> and save that, or use <see cref="Save(string)"/> and
    /// <c>mlContext.Distillation.LoadModel(path)</c> for a TorchSharp checkpoint.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
        => throw new NotSupportedException(
            $"{nameof(ImageClassifierTransformer)} cannot be written into an ML.NET model zip (mlContext.Model.Save) as it is: ML.NET keeps that " +
            "plumbing internal. Convert the fitted model with mlContext.Distillation.ConvertToOnnxScoring(model) and save the result " +
            "(it runs the network with ONNX Runtime, no TorchSharp needed to load it), or keep a TorchSharp checkpoint with " +
            "transformer.Save(path) and mlContext.Distillation.LoadModel(path).");

    /// <summary>Saves the model (weights, auxiliary branches, class names, normalisation, columns) to a file, replacing it atomically.</summary>
    public void Save(string path) => ModelFile.Save(Model, path);

    /// <summary>Saves the model to a stream (which stays open).</summary>
    public void Save(Stream stream) => ModelFile.Save(Model, stream);

    /// <summary>
    /// Writes the network (backbone and main head; the auxiliary branches are training-only and left out) as an ONNX model, for
    /// serving with ONNX Runtime or any other ONNX runtime, from .NET or another language, without TorchSharp. The file is
    /// replaced atomically.
    /// </summary>
    /// <param name="path">The <c>.onnx</c> file to write.</param>
    /// <remarks>
    /// <format type="text/markdown"><![CDATA[
    /// The model uses ONNX opset 13 (IR version 7); weights are float32.
    ///
    /// | Name | Type | Shape | Meaning |
    /// | -- | -- | -- | -- |
    /// | `pixels` (input) | float32 | [N, C, H, W] | raw pixels, planar: for `MLImage` columns the R, G and B planes with values 0..255 (what `ExtractPixels` gives with its defaults); for pixel-vector columns the C x H x W values as the column holds them |
    /// | `logits` (output) | float32 | [N, K] | main-head logits |
    /// | `probabilities` (output) | float32 | [N, K] | softmax of the logits; column i is `ClassNames[i]` |
    ///
    /// N is dynamic. The normalisation learned at training time, `(x - mean) / std` per channel, is the first step inside the
    /// graph, so callers feed raw pixels. The metadata (`ModelMetadata.CustomMetadataMap` in ONNX Runtime) holds `classNames`
    /// (a JSON array), `inputShape`, `architecture`, `normalizationMean` and `normalizationStd`.
    /// To score inside an ML.NET pipeline that `mlContext.Model.Save` can persist, use
    /// `mlContext.Distillation.ConvertToOnnxScoring` instead.
    /// ]]></format>
    /// </remarks>
    /// <example>
    /// <code>
    /// model.ExportOnnx("student.onnx");
    ///
    /// // Serving, with only the Microsoft.ML.OnnxRuntime package:
    /// using var session = new InferenceSession("student.onnx");
    /// var pixels = new DenseTensor&lt;float&gt;(rawPlanarPixels, [1, 3, 32, 32]);
    /// using var results = session.Run([NamedOnnxValue.CreateFromTensor("pixels", pixels)]);
    /// float[] probabilities = results.First(r => r.Name == "probabilities").AsEnumerable&lt;float&gt;().ToArray();
    /// </code>
    /// </example>
    /// <exception cref="NotSupportedException">The network contains a layer the ONNX writer does not know (none of the zoo's do).</exception>
    public void ExportOnnx(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var onnx = OnnxExporter.ForClassifier(Model);
        AtomicFile.Write(path, onnx.WriteTo);
    }

    /// <summary>Writes the network as an ONNX model to a stream (which stays open). See <see cref="ExportOnnx(string)"/> for the contract.</summary>
    /// <param name="stream">A writable stream.</param>
    public void ExportOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        OnnxExporter.ForClassifier(Model).WriteTo(stream);
    }

    /// <summary>
    /// What this model costs to ship and run: inference parameters, FLOPs per image, model and ONNX file sizes, and the measured latency
    /// per image at batch 1 and at <see cref="CostMeasurementOptions.BatchSize"/> (its own TorchSharp forward by default, or the
    /// application's probe). Latency depends on the machine and its load; compare models measured on one machine in one run.
    /// </summary>
    /// <param name="options">How to measure latency; null for the defaults.</param>
    public ModelCost MeasureCost(CostMeasurementOptions? options = null) => Selection.CostMeter.Measure(this, options);

    /// <summary>Releases the native memory of the network.</summary>
    public void Dispose() => Model.Dispose();
}
