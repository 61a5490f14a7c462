// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Persistence;
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
/// Save with <see cref="Save(string)"/> and load with <c>mlContext.Distillation.LoadModel</c>.
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
    /// ML.NET's model zip cannot hold a TorchSharp network through public API. Use <see cref="Save(string)"/> and
    /// <c>mlContext.Distillation.LoadModel(path)</c>; save the preprocessing part of the pipeline separately with <c>mlContext.Model.Save</c>.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
        => throw new NotSupportedException(
            $"{nameof(ImageClassifierTransformer)} cannot be written into an ML.NET model zip (mlContext.Model.Save): ML.NET keeps that " +
            "plumbing internal. Save it with transformer.Save(path) and load it with mlContext.Distillation.LoadModel(path).");

    /// <summary>Saves the model (weights, auxiliary branches, class names, normalisation, columns) to a file, replacing it atomically.</summary>
    public void Save(string path) => ModelFile.Save(Model, path);

    /// <summary>Saves the model to a stream (which stays open).</summary>
    public void Save(Stream stream) => ModelFile.Save(Model, stream);

    /// <summary>Releases the native memory of the network.</summary>
    public void Dispose() => Model.Dispose();
}
