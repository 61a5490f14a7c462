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
        => new(Environment, Flat(new TeacherOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Pretrains an HSAKD teacher with every option available.</summary>
    /// <param name="options">Columns, network, schedule, augmentation, device and progress; see <see cref="TeacherOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns an <see cref="ImageClassifierTransformer"/>.</returns>
    public TeacherEstimator Teacher(TeacherOptions options) => new(Environment, options);

    /// <summary>
    /// Distils a teacher into a student with HSAKD (Hierarchical Self-supervised Augmented Knowledge Distillation): the student's
    /// auxiliary branches mimic the teacher's joint class x rotation distributions, and its main head the teacher's class distribution.
    /// </summary>
    /// <param name="teacher">A fitted teacher: the <see cref="ImageClassifierTransformer"/> from <see cref="Teacher(TeacherOptions)"/> or
    /// <see cref="LoadModel(string, ComputeDevice)"/>, or a fitted chain ending in one. It is not modified.</param>
    /// <param name="labelColumnName">Label column; a key with the teacher's classes in the teacher's order.</param>
    /// <param name="imageColumnName">Image column, prepared as for the teacher.</param>
    /// <param name="architecture">Student network from the zoo with as many auxiliary branches as the teacher's (e.g. "wrn16_2", "resnet8x4").</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Original images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student as an <see cref="ImageClassifierTransformer"/>.</returns>
    public HsakdEstimator Hsakd(ITransformer teacher,
        string labelColumnName = DistillationTrainerOptions.Defaults.LabelColumnName,
        string imageColumnName = DistillationTrainerOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = DistillationTrainerOptions.Defaults.Epochs,
        int batchSize = DistillationTrainerOptions.Defaults.BatchSize,
        double learningRate = DistillationTrainerOptions.Defaults.LearningRate)
        => new(Environment, teacher, Flat(new HsakdOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Distils a teacher into a student with HSAKD, with every option available.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">Student network, loss weights and temperature, schedule; see <see cref="HsakdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public HsakdEstimator Hsakd(ITransformer teacher, HsakdOptions options) => new(Environment, teacher, options);

    /// <summary>Distils a teacher saved with <see cref="ImageClassifierTransformer.Save(string)"/> into a student with HSAKD.</summary>
    /// <param name="teacherModelPath">The saved teacher.</param>
    /// <param name="options">See <see cref="HsakdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public HsakdEstimator Hsakd(string teacherModelPath, HsakdOptions options) => new(Environment, LoadModel(teacherModelPath, ComputeDevice.Cpu), options);

    /// <summary>Vanilla knowledge distillation (Hinton et al., 2015): <c>0.1·CE + 0.9·T²·KL</c> at T = 4.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="labelColumnName">Label column; a key with the teacher's classes in the teacher's order.</param>
    /// <param name="imageColumnName">Image column, prepared as for the teacher.</param>
    /// <param name="architecture">Student network from the zoo.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public KdEstimator Kd(ITransformer teacher,
        string labelColumnName = DistillationTrainerOptions.Defaults.LabelColumnName,
        string imageColumnName = DistillationTrainerOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = DistillationTrainerOptions.Defaults.Epochs,
        int batchSize = DistillationTrainerOptions.Defaults.BatchSize,
        double learningRate = DistillationTrainerOptions.Defaults.LearningRate)
        => new(Environment, teacher, Flat(new KdOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Vanilla knowledge distillation with every option available.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="KdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public KdEstimator Kd(ITransformer teacher, KdOptions options) => new(Environment, teacher, options);

    /// <summary>
    /// The no-teacher baseline: the student trained alone with cross-entropy, through the same engine and schedule as the
    /// distillers, so what distillation buys can be measured.
    /// </summary>
    /// <param name="labelColumnName">Label column; a key.</param>
    /// <param name="imageColumnName">Image column.</param>
    /// <param name="architecture">Network from the zoo.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the trained network.</returns>
    public BaselineEstimator Baseline(
        string labelColumnName = DistillationTrainerOptions.Defaults.LabelColumnName,
        string imageColumnName = DistillationTrainerOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = DistillationTrainerOptions.Defaults.Epochs,
        int batchSize = DistillationTrainerOptions.Defaults.BatchSize,
        double learningRate = DistillationTrainerOptions.Defaults.LearningRate)
        => new(Environment, Flat(new StudentOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>The no-teacher baseline with every option available.</summary>
    /// <param name="options">See <see cref="StudentOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the trained network.</returns>
    public BaselineEstimator Baseline(StudentOptions options) => new(Environment, options);

    /// <summary>Fills the arguments every flat overload shares into an options object.</summary>
    private static TOptions Flat<TOptions>(TOptions options, string labelColumnName, string imageColumnName, string architecture,
        int epochs, int batchSize, double learningRate)
        where TOptions : DistillationTrainerOptions
    {
        options.LabelColumnName = labelColumnName;
        options.ImageColumnName = imageColumnName;
        options.Architecture = architecture;
        options.Epochs = epochs;
        options.BatchSize = batchSize;
        options.LearningRate = learningRate;
        return options;
    }

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
