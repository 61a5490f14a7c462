// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>Checks options when an estimator is created, so a bad value fails before any data is read.</summary>
internal static class OptionsValidation
{
    public static void Check(TrainingOptions o)
    {
        RequireName(o.LabelColumnName, nameof(o.LabelColumnName));
        RequireName(o.ImageColumnName, nameof(o.ImageColumnName));
        RequireName(o.ScoreColumnName, nameof(o.ScoreColumnName));
        RequireName(o.PredictedLabelColumnName, nameof(o.PredictedLabelColumnName));
        NetworkRegistry.Validate(o.Architecture, nameof(o.Architecture));
        Positive(o.Epochs, nameof(o.Epochs));
        Positive(o.BatchSize, nameof(o.BatchSize));
        if (!(o.LearningRate > 0) || double.IsInfinity(o.LearningRate))
            throw new ArgumentOutOfRangeException(nameof(o.LearningRate), o.LearningRate, "LearningRate must be a positive, finite number (the paper uses 0.05).");
        if (!(o.LearningRateDecay > 0 && o.LearningRateDecay <= 1))
            throw new ArgumentOutOfRangeException(nameof(o.LearningRateDecay), o.LearningRateDecay, "LearningRateDecay must be in (0, 1] (the paper uses 0.1).");
        if (o.LearningRateWarmupEpochs is < 0)
            throw new ArgumentOutOfRangeException(nameof(o.LearningRateWarmupEpochs), o.LearningRateWarmupEpochs, "LearningRateWarmupEpochs must be >= 0 (0: no warm-up), or null for the method's default.");
        if (o.LearningRateMilestones is { } milestones && milestones.Any(m => m < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(o.LearningRateMilestones), string.Join(",", milestones),
                "LearningRateMilestones must be 0-based epoch numbers of at least 1: a milestone at epoch 0 would decay the rate before the first "
                + "epoch (set a lower LearningRate instead). Milestones at or past Epochs have no effect.");
        }
        if (!(o.Momentum >= 0 && o.Momentum < 1))
            throw new ArgumentOutOfRangeException(nameof(o.Momentum), o.Momentum, "Momentum must be in [0, 1).");
        if (!(o.WeightDecay >= 0) || double.IsInfinity(o.WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(o.WeightDecay), o.WeightDecay, "WeightDecay must be >= 0.");
        if (o.RandomCropPadding < 0)
            throw new ArgumentOutOfRangeException(nameof(o.RandomCropPadding), o.RandomCropPadding, "RandomCropPadding must be >= 0 (0 turns cropping off).");
        if (o.NumberOfThreads is int t && t < 1)
            throw new ArgumentOutOfRangeException(nameof(o.NumberOfThreads), t, "NumberOfThreads must be at least 1, or null for libtorch's default.");
        if (o.CheckpointsToKeep < 1)
            throw new ArgumentOutOfRangeException(nameof(o.CheckpointsToKeep), o.CheckpointsToKeep, "CheckpointsToKeep must be at least 1.");
        if (o.Resume && string.IsNullOrWhiteSpace(o.CheckpointDirectory))
            throw new ArgumentException("Resume needs CheckpointDirectory: the folder whose checkpoints to continue from.", nameof(o.CheckpointDirectory));
        if (!Enum.IsDefined(o.Device))
            throw new ArgumentOutOfRangeException(nameof(o.Device), o.Device, "Device must be Auto, Cpu or Cuda.");
        if (!Enum.IsDefined(o.Precision))
            throw new ArgumentOutOfRangeException(nameof(o.Precision), o.Precision, "Precision must be Float32 or BFloat16Mixed.");
        if ((o.NormalizationMean is null) != (o.NormalizationStd is null))
            throw new ArgumentException("Give both NormalizationMean and NormalizationStd, or neither (then they are computed from the training data).", o.NormalizationMean is null ? nameof(o.NormalizationMean) : nameof(o.NormalizationStd));
        if (o.NormalizationStd is { } std && std.Any(s => !(s > 0)))
            throw new ArgumentOutOfRangeException(nameof(o.NormalizationStd), string.Join(",", std), "Every NormalizationStd value must be positive.");
        int given = (o.ImageChannels is null ? 0 : 1) + (o.ImageHeight is null ? 0 : 1) + (o.ImageWidth is null ? 0 : 1);
        if (given is 1 or 2)
            throw new ArgumentException("Give all three of ImageChannels, ImageHeight and ImageWidth, or none.", nameof(o.ImageChannels));
        if (given == 3 && (o.ImageChannels < 1 || o.ImageHeight < 1 || o.ImageWidth < 1))
            throw new ArgumentOutOfRangeException(nameof(o.ImageChannels), $"{o.ImageChannels}x{o.ImageHeight}x{o.ImageWidth}", "ImageChannels, ImageHeight and ImageWidth must be positive.");
    }

    public static ImageShape? ShapeHint(TrainingOptions o)
        => o.ImageChannels is int c && o.ImageHeight is int h && o.ImageWidth is int w ? new ImageShape(c, h, w) : null;

    private static void Positive(int value, string name)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
    }

    private static void RequireName(string value, string name)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new ArgumentException($"{name} must name a column.", name);
    }
}
