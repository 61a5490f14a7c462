// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Transformers;

/// <summary>
/// A trained network together with what scoring needs to feed it: the image column and its shape, the normalisation,
/// the class names and the output column names. Shared by the transformer, persistence and the distillers that use it as a teacher.
/// </summary>
internal sealed class TrainedClassifier : IDisposable
{
    public TrainedClassifier(ClassifierNetwork network, string role, ImageColumnInfo imageColumn, string[] classNames,
        ChannelNormalization normalization, string scoreColumnName, string predictedLabelColumnName, Device device)
    {
        Network = network;
        Role = role;
        ImageColumn = imageColumn;
        ClassNames = classNames;
        Normalization = normalization;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
        Device = device;
        Network.to(device);
        Network.eval();
    }

    public ClassifierNetwork Network { get; }

    /// <summary>"Teacher" or "Student".</summary>
    public string Role { get; }

    /// <summary>Name, kind and shape of the image column the network reads.</summary>
    public ImageColumnInfo ImageColumn { get; }

    public ImageShape Shape => ImageColumn.Shape!.Value;

    public string[] ClassNames { get; }

    public int ClassCount => ClassNames.Length;

    public ChannelNormalization Normalization { get; }

    public string ScoreColumnName { get; }

    public string PredictedLabelColumnName { get; }

    public Device Device { get; }

    /// <summary>
    /// Class probabilities for <paramref name="rows"/> images of raw pixels laid out [rows, C, H, W] in <paramref name="pixels"/>;
    /// writes rows*K floats to <paramref name="probabilities"/>.
    /// </summary>
    public void Score(ReadOnlySpan<float> pixels, int rows, Span<float> probabilities)
    {
        var shape = Shape;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = tensor(pixels[..(rows * shape.Size)].ToArray(), new long[] { rows, shape.Channels, shape.Height, shape.Width }).to(Device);
        var logits = Network.ForwardLogits(Normalization.Normalize(input));
        var probs = nn.functional.softmax(logits, 1).cpu();
        probs.data<float>().CopyTo(probabilities[..(rows * ClassCount)]);
    }

    /// <summary>
    /// Checks that <paramref name="schema"/> has an image column this model can read (same name; any accepted kind of the trained shape)
    /// and returns how to read it.
    /// </summary>
    public ImageColumnInfo ImageColumnFor(DataViewSchema schema, string paramName = "input")
        => ImageSchemaValidator.ValidateImageColumn(schema, ImageColumn.Name, Shape, paramName, "the trained model");

    public void Dispose()
    {
        Network.Dispose();
        Normalization.Dispose();
    }

    /// <summary>The network of a fitted teacher given as its transformer or a chain ending in one; a clear error otherwise.</summary>
    public static TrainedClassifier FromTeacher(ITransformer teacher)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        var found = teacher switch
        {
            ImageClassifierTransformer t => t,
            IEnumerable<ITransformer> chain => chain.OfType<ImageClassifierTransformer>().LastOrDefault(),
            _ => null,
        };
        return found?.Model ?? throw new ArgumentException(
            $"The teacher must be a fitted Microsoft.ML.Distillation model (an {nameof(ImageClassifierTransformer)}, or a TransformerChain ending in one), " +
            $"but a {teacher.GetType().Name} was given. Train one with mlContext.Distillation.Teacher or load one with mlContext.Distillation.LoadModel.",
            nameof(teacher));
    }
}
