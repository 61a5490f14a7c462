// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// What every estimator of this library does the same way: check options and schema before any training, read the data into
/// tensors once, seed, build the network, run the shared <see cref="TrainingEngine"/>, and wrap the result as an
/// <see cref="ImageClassifierTransformer"/>. A concrete estimator supplies the network, the loss and the teacher, if any.
/// </summary>
public abstract class ImageClassifierEstimatorBase<TOptions> : IEstimator<ImageClassifierTransformer>, IMethodNamed
    where TOptions : TrainingOptions
{
    /// <inheritdoc/>
    string IMethodNamed.MethodName => Phase;

    private protected ImageClassifierEstimatorBase(IHostEnvironment env, TOptions options, string phase)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        Host = env.Register(phase);
        Options = options;
        Phase = phase;
        OptionsValidation.Check(options);
        // The catalog's environment is the MLContext itself: its public GPU settings are read when training starts.
        _context = env as MLContext;
    }

    private readonly MLContext? _context;

    private protected IHost Host { get; }

    private protected TOptions Options { get; }

    private protected string Phase { get; }

    /// <summary>The optional shape hint for flat pixel vectors, from the options.</summary>
    private protected ImageShape? ShapeHint => OptionsValidation.ShapeHint(Options);

    /// <summary>
    /// Trains on <paramref name="input"/> and returns the fitted classifier. Trainings in one process run one at a time
    /// (a second concurrent <c>Fit</c> waits), so each gives the same model as it would alone.
    /// </summary>
    public ImageClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        TorchRuntime.EnsureLoaded();
        lock (TrainingGate.Lock)
            return FitLocked(input);
    }

    private ImageClassifierTransformer FitLocked(IDataView input)
    {
        var image = ImageSchemaValidator.ValidateImageColumn(input.Schema, Options.ImageColumnName, ShapeHint);
        var label = ImageSchemaValidator.ValidateLabelColumn(input.Schema, Options.LabelColumnName);
        CheckBeforeReading(image, label);
        using var channel = Host.Start(Phase);
        var device = TorchRuntime.Resolve(Options.Device, _context?.GpuDeviceId, _context?.FallbackToCpu ?? false,
            message => channel.Warning(MessageSensitivity.None, message));
        if ((Options.NumberOfThreads ?? CpuTopology.DefaultTorchThreads()) is int threads)
            torch.set_num_threads(threads);

        var loss = CreateLoss();
        CheckLoss(loss);
        var cancellation = Options.CancellationToken;
        using var train = ReadData(input, image, label, "training", channel);
        CheckDataset(train, loss);
        using var validation = Options.ValidationSet is null ? null : ReadValidation(Options.ValidationSet, train, channel);

        var store = Options.CheckpointDirectory is null ? null : new CheckpointStore(Options.CheckpointDirectory, Phase, Options.CheckpointsToKeep);
        var resume = Options.Resume ? FindCheckpoint(store!, train) : null;
        int seed = resume?.Manifest.Seed ?? Options.Seed ?? Host.Rand.Next();
        using var generator = torch.random.manual_seed(seed);
        var normalization = resume is null
            ? CreateNormalization(train)
            : ChannelNormalization.FromValues(resume.Manifest.NormalizationMean, resume.Manifest.NormalizationStd, train.Shape.Channels);
        if (resume is not null)
            channel.Info(MessageSensitivity.None, $"{Phase}: resuming from '{resume.Path}' after epoch {resume.Manifest.EpochsCompleted}.");
        channel.Info(MessageSensitivity.None,
            $"{Phase}: {train.Count} images {train.Shape}, {train.ClassCount} classes, architecture {Options.Architecture}, device {device.type}, seed {seed}.");

        var network = CreateNetwork(train, device, channel);
        try
        {
            var settings = new TrainingSettings
            {
                Phase = Phase,
                Epochs = Options.Epochs,
                BatchSize = Options.BatchSize,
                Schedule = new LearningRateSchedule(Options.LearningRate,
                    Options.LearningRateMilestones ?? LearningRateSchedule.ScaledDefaultMilestones(Options.Epochs), Options.LearningRateDecay,
                    Options.LearningRateWarmupEpochs ?? DefaultWarmupEpochs),
                Momentum = Options.Momentum,
                Nesterov = Options.Nesterov,
                WeightDecay = Options.WeightDecay,
                Seed = seed,
                Device = device,
                RandomCropPadding = Options.RandomCropPadding,
                HorizontalFlip = Options.HorizontalFlip,
                Trainable = TrainableParts,
                ParameterLearningRateFactors = ParameterLearningRateFactors,
                CancellationToken = cancellation,
                Checkpoints = store,
                ResumeFrom = resume,
                ReleaseMemoryEachStep = Options.ReleaseMemoryEachStep,
                ChannelsLast = ChannelsLastOnCpu(device, channel),
                TeacherInBFloat16 = TeacherInBFloat16(device, channel),
                MixedPrecision = MixedPrecision(device, channel),
            };
            var engine = new TrainingEngine(channel, Options.MetricsCallback);
            loss = PrepareLoss(loss, new LossPreparation(network, train, normalization, settings, channel));
            try
            {
                engine.Run(network, Teacher?.Network, loss, train, validation, normalization, settings);
            }
            finally
            {
                (loss as IDisposable)?.Dispose();
            }
            var imageColumn = image with { Shape = train.Shape };
            ImageClassifierTransformer Wrap(ClassifierNetwork trained, ChannelNormalization norm) => new(Host,
                new TrainedClassifier(trained, Role, imageColumn, train.ClassNames, norm, Options.ScoreColumnName, Options.PredictedLabelColumnName, device));
            return Finish(new TrainingOutcome(network, normalization, validation, settings, channel, Wrap));
        }
        catch
        {
            network.Dispose();
            normalization.Dispose();
            throw;
        }
    }

    /// <summary>The input schema plus Score (vector of Single) and PredictedLabel (key), after the same checks as <see cref="Fit"/>.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageSchemaValidator.CheckImageColumn(inputSchema, Options.ImageColumnName, ShapeHint);
        ImageSchemaValidator.CheckLabelColumn(inputSchema, Options.LabelColumnName);
        return SchemaShapeColumns.AppendScoreColumns(inputSchema, Options.ScoreColumnName, Options.PredictedLabelColumnName);
    }

    /// <summary>
    /// Turns the trained network into the fitted model. The default wraps <see cref="TrainingOutcome.Network"/> with the normalisation;
    /// an estimator that trains several networks at once (online distillation) returns one of them and disposes what it does not return.
    /// </summary>
    private protected virtual ImageClassifierTransformer Finish(TrainingOutcome outcome) => outcome.Wrap(outcome.Network, outcome.Normalization);

    /// <summary>The architecture name a checkpoint of this training records (<see cref="ClassifierNetwork.Architecture"/>); checked on resume.</summary>
    private protected virtual string CheckpointArchitecture => Options.Architecture;

    /// <summary>"Teacher" or "Student", recorded in saved models.</summary>
    private protected virtual string Role => "Student";

    /// <summary>Per-channel normalisation: from the options when given, else computed from the training images.</summary>
    private protected virtual ChannelNormalization CreateNormalization(ImageTensorDataset train)
        => Options.NormalizationMean is null
            ? ChannelNormalization.Compute(train.Images)
            : ChannelNormalization.FromValues(Options.NormalizationMean, Options.NormalizationStd, train.Shape.Channels);

    /// <summary>The frozen teacher, for distillers; null when training without one.</summary>
    private protected virtual TrainedClassifier? Teacher => null;

    /// <summary>The warm-up when <see cref="TrainingOptions.LearningRateWarmupEpochs"/> is null: none (0) unless the method's paper has one.</summary>
    private protected virtual int DefaultWarmupEpochs => 0;

    /// <summary>Which parameters train.</summary>
    private protected virtual TrainableParts TrainableParts => TrainableParts.All;

    /// <summary>
    /// Learning-rate factors of some network parameters by state-dict name (the pretrained part when fine-tuning); read after
    /// <see cref="CreateNetwork"/>. Null: one rate.
    /// </summary>
    private protected virtual IReadOnlyDictionary<string, double>? ParameterLearningRateFactors => null;

    /// <summary>
    /// Whether to train in channels-last strides (<see cref="TrainingOptions.ChannelsLast"/>): on the CPU, where libtorch's channels-last
    /// convolutions agree with its NCHW ones (<see cref="Training.ChannelsLast.KernelsAgree"/>); elsewhere a warning says why not.
    /// </summary>
    private bool ChannelsLastOnCpu(Device device, IChannel channel)
    {
        if (!Options.ChannelsLast || device.type != DeviceType.CPU)
            return false;
        if (Training.ChannelsLast.KernelsAgree(out string reason))
            return true;
        channel.Warning(MessageSensitivity.None, $"{Phase}: ChannelsLast asked for, but {reason}; training runs in the standard (NCHW) layout.");
        return false;
    }

    /// <summary>
    /// Whether the network trains in bfloat16 mixed precision on <paramref name="device"/> (<see cref="TrainingOptions.Precision"/>): on
    /// CUDA, and on CPUs where bfloat16 is fast; elsewhere a warning says why it trains in float32.
    /// </summary>
    private bool MixedPrecision(Device device, IChannel channel)
        => Options.Precision == TrainingPrecision.BFloat16Mixed
            && Native.BFloat16Support.IsUsedOn(device, channel, Phase, "Precision = BFloat16Mixed", "training runs in float32");

    /// <summary>Whether the frozen teacher runs in bfloat16 on <paramref name="device"/> (students' <c>TeacherPrecision</c>); false by default.</summary>
    private protected virtual bool TeacherInBFloat16(Device device, IChannel channel) => false;

    /// <summary>The objective of this estimator.</summary>
    private protected abstract IDistillationLoss CreateLoss();

    /// <summary>
    /// Completes the loss once the network, the data and the settings are known (e.g. SSKD builds its projection heads here and
    /// trains the teacher's). The default returns <paramref name="loss"/>. A returned <see cref="IDisposable"/> loss is disposed after training.
    /// </summary>
    private protected virtual IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context) => loss;

    /// <summary>The network to train, for the data's channels and classes (weights initialised under the training seed).</summary>
    private protected virtual ClassifierNetwork CreateNetwork(ImageTensorDataset train, Device device, IChannel channel)
        => NetworkRegistry.Create(Options.Architecture, train.Shape.Channels, train.ClassCount);

    /// <summary>Checks of the method against the rest of the setup (the teacher), before reading any row.</summary>
    private protected virtual void CheckLoss(IDistillationLoss loss)
    {
    }

    /// <summary>Checks that need only the schema (before reading any row).</summary>
    private protected virtual void CheckBeforeReading(ImageColumnInfo image, LabelColumnInfo label)
    {
    }

    /// <summary>Checks that need the data (class count, image size) before training starts.</summary>
    private protected virtual void CheckDataset(ImageTensorDataset train, IDistillationLoss loss)
    {
        if (loss.UsesRotations && train.Shape.Height != train.Shape.Width)
            throw new ArgumentException(
                $"Column '{Options.ImageColumnName}': images are {train.Shape.Height}x{train.Shape.Width} (HxW), but the rotation task needs square images. " +
                "Add mlContext.Transforms.ResizeImages with equal width and height.", "data");
    }

    /// <summary>The newest checkpoint of this phase, after checking that it belongs to this training; null when there is none.</summary>
    private ResumePoint? FindCheckpoint(CheckpointStore store, ImageTensorDataset train)
    {
        string? newest = store.List().FirstOrDefault();
        if (newest is null)
            return null;
        var m = CheckpointStore.ReadManifest(newest);
        void Require(bool same, string what, object inCheckpoint, object now)
        {
            if (!same)
                throw new ArgumentException(
                    $"Cannot resume from '{newest}': it was written for {what} {inCheckpoint}, but this training has {now}. " +
                    "Use another CheckpointDirectory, or the options and data of the interrupted training.",
                    nameof(TrainingOptions.Resume));
        }
        Require(string.Equals(m.Phase, Phase, StringComparison.Ordinal), "phase", m.Phase, Phase);
        Require(NetworkRegistry.Normalize(m.Architecture) == NetworkRegistry.Normalize(CheckpointArchitecture), "architecture", m.Architecture, CheckpointArchitecture);
        Require(m.ClassCount == train.ClassCount, "class count", m.ClassCount, train.ClassCount);
        Require(m.InputChannels == train.Shape.Channels, "image channels", m.InputChannels, train.Shape.Channels);
        Require(m.TrainRows == train.Count, "training rows", m.TrainRows, train.Count);
        Require(m.BatchSize == Options.BatchSize, "batch size", m.BatchSize, Options.BatchSize);
        Require(m.Epochs == Options.Epochs, "epochs", m.Epochs, Options.Epochs);
        Require(Options.Seed is null || Options.Seed == m.Seed, "seed", m.Seed, Options.Seed!);
        return new ResumePoint(newest, m);
    }

    /// <summary>
    /// Reads <paramref name="data"/> into tensors; with <see cref="TrainingOptions.SkipUnreadableImages"/>, rows whose image
    /// cannot be read are left out, each logged as a warning naming its row and file, then their number.
    /// </summary>
    private ImageTensorDataset ReadData(IDataView data, ImageColumnInfo image, LabelColumnInfo label, string role, IChannel channel)
    {
        if (!Options.SkipUnreadableImages)
            return ImageDatasetReader.Read(data, image, label, cancellationToken: Options.CancellationToken);

        long skipped = 0;
        void LeaveOut(long row, string message)
        {
            skipped++;
            channel.Warning(MessageSensitivity.None, $"{Phase}: {role} row {row} left out (SkipUnreadableImages): {message}");
        }

        var dataset = ImageDatasetReader.Read(data, image, label, cancellationToken: Options.CancellationToken, onUnreadableRow: LeaveOut);
        if (skipped > 0)
        {
            channel.Warning(MessageSensitivity.None,
                $"{Phase}: {skipped} of {skipped + dataset.Count} {role} rows left out because their image could not be read (SkipUnreadableImages).");
        }
        return dataset;
    }

    private ImageTensorDataset ReadValidation(IDataView validationSet, ImageTensorDataset train, IChannel channel)
    {
        const string option = nameof(TrainingOptions.ValidationSet);
        var image = ImageSchemaValidator.ValidateImageColumn(validationSet.Schema, Options.ImageColumnName, train.Shape, option, "the training data");
        var label = ImageSchemaValidator.ValidateLabelColumn(validationSet.Schema, Options.LabelColumnName, option);
        if (label.ClassCount != train.ClassCount)
            throw new ArgumentException(
                $"ValidationSet: label column '{Options.LabelColumnName}' has {label.ClassCount} classes, but the training data has {train.ClassCount}. " +
                "Map both with the same fitted MapValueToKey.", option);
        return ReadData(validationSet, image, label, "validation", channel);
    }
}

/// <summary>What <c>PrepareLoss</c> can use: the network about to train, the data, its normalisation, the settings, the log.</summary>
internal sealed record LossPreparation(
    ClassifierNetwork Network, ImageTensorDataset Train, ChannelNormalization Normalization, TrainingSettings Settings, IChannel Channel);

/// <summary>
/// What <c>Finish</c> gets once training has ended: the trained network, its normalisation, the validation data (or null), the
/// settings and log of the run, and <see cref="Wrap"/>, which makes a fitted model of a network and a normalisation (it then owns both).
/// </summary>
internal sealed record TrainingOutcome(
    ClassifierNetwork Network, ChannelNormalization Normalization, ImageTensorDataset? Validation, TrainingSettings Settings, IChannel Channel,
    Func<ClassifierNetwork, ChannelNormalization, ImageClassifierTransformer> Wrap);

/// <summary>An estimator that names its method (its training phase: "KD", "HSAKD", ...), for sweeps and reports.</summary>
internal interface IMethodNamed
{
    string MethodName { get; }
}
