// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Methods.Hsakd;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>Fixed-seed HSAKD trainings straight through <see cref="TrainingEngine"/>, for the fast-path equality tests.</summary>
internal static class EngineRuns
{
    /// <summary>
    /// Trains <paramref name="student"/> (created by the caller after seeding) with HSAKD (T = 3) from <paramref name="teacher"/>:
    /// seed 3, SGD 0.05 with Nesterov momentum 0.9, weight decay 5e-4, crop padding 4 and flips; <paramref name="foldTeacher"/>
    /// and <paramref name="channelsLast"/> are the fast-path switches under test.
    /// </summary>
    public static IReadOnlyList<TrainingMetrics> Hsakd(ClassifierNetwork student, ClassifierNetwork teacher, ImageTensorDataset data,
        int epochs, int batchSize, bool foldTeacher = false, bool channelsLast = false)
    {
        using var normalization = ChannelNormalization.FromValues([120f, 110f, 100f], [60f, 70f, 65f], 3);
        var settings = new TrainingSettings
        {
            Phase = "HSAKD", Epochs = epochs, BatchSize = batchSize, Schedule = new LearningRateSchedule(0.05, [], 0.1),
            Momentum = 0.9, Nesterov = true, WeightDecay = 5e-4, Seed = 3, Device = CPU, RandomCropPadding = 4, HorizontalFlip = true,
            FoldTeacherBatchNorms = foldTeacher, ChannelsLast = channelsLast,
        };
        var env = new MLContext(seed: 1);
        using var channel = ((IHostEnvironment)env).Register("test").Start("test");
        return new TrainingEngine(channel, null).Run(student, teacher, new HsakdLoss(3, 1, 1, 1), data, null, normalization, settings);
    }
}
