// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Knowledge distillation for image classifiers: <c>mlContext.Distillation</c>. Factory methods for the estimators
/// (flat and Options overloads) and for loading saved models.
/// </summary>
public sealed class DistillationCatalog
{
    internal DistillationCatalog(MLContext mlContext)
    {
        MLContext = mlContext;
        Environment = mlContext;
    }

    internal MLContext MLContext { get; }

    internal IHostEnvironment Environment { get; }

    /// <summary>
    /// Pretrains an HSAKD teacher: a network with auxiliary branches that learn class x rotation beside the main head.
    /// </summary>
    /// <param name="labelColumnName">Label column; must be a key type (use <c>MapValueToKey</c>).</param>
    /// <param name="imageColumnName">Image column: <c>MLImage</c> (square, fixed size) or a known-size pixel vector of C x H x W.</param>
    /// <param name="architecture">Network from the zoo, e.g. "wrn40_2", "resnet32x4", "vgg13".</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Original images per step (the networks see four rotations of each).</param>
    /// <param name="learningRate">Initial SGD learning rate, decayed × 0.1 at 62.5%, 75% and 87.5% of the epochs.</param>
    /// <returns>An estimator whose <c>Fit</c> returns an <see cref="ImageClassifierTransformer"/>.</returns>
    /// <example>
    /// <code>
    /// var teacher = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.Distillation.Teacher(architecture: "wrn16_2", epochs: 30))
    ///     .Fit(train);
    /// </code>
    /// </example>
    public TeacherEstimator Teacher(
        string labelColumnName = DistillationTrainerOptions.Defaults.LabelColumnName,
        string imageColumnName = DistillationTrainerOptions.Defaults.ImageColumnName,
        string architecture = TeacherOptions.DefaultArchitecture,
        int epochs = DistillationTrainerOptions.Defaults.Epochs,
        int batchSize = DistillationTrainerOptions.Defaults.BatchSize,
        double learningRate = DistillationTrainerOptions.Defaults.LearningRate)
        => new(Environment, new TeacherOptions
        {
            LabelColumnName = labelColumnName,
            ImageColumnName = imageColumnName,
            Architecture = architecture,
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
        });

    /// <summary>Pretrains an HSAKD teacher with every option available.</summary>
    /// <param name="options">Columns, network, schedule, augmentation, device and progress; see <see cref="TeacherOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns an <see cref="ImageClassifierTransformer"/>.</returns>
    public TeacherEstimator Teacher(TeacherOptions options) => new(Environment, options);

    /// <summary>Loads a model saved with <see cref="ImageClassifierTransformer.Save(string)"/>.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="device">Where to score.</param>
    /// <returns>The fitted transformer, ready to <c>Transform</c>.</returns>
    public ImageClassifierTransformer LoadModel(string path, ComputeDevice device = ComputeDevice.Auto)
        => new(Environment, ModelFile.Load(path, device));

    /// <summary>Loads a model from a stream (which stays open).</summary>
    /// <param name="stream">The saved model.</param>
    /// <param name="device">Where to score.</param>
    /// <returns>The fitted transformer, ready to <c>Transform</c>.</returns>
    public ImageClassifierTransformer LoadModel(Stream stream, ComputeDevice device = ComputeDevice.Auto)
        => new(Environment, ModelFile.Load(stream, device));
}
