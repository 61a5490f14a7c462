// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// A method's pre-stage on the frozen teacher (SSKD's projection head, MGD's granularity branches): what trains, for how long, and what
/// else decides the result.
/// </summary>
/// <param name="Phase">Name of the stage in logs and metrics ("SSKD teacher head").</param>
/// <param name="What">What is trained, for the log ("the teacher's projection head").</param>
/// <param name="Stream">The stage's seed stream in <see cref="SeedDerivation"/>; unique per method.</param>
/// <param name="Epochs">Epochs of the stage.</param>
/// <param name="LearningRate">Initial learning rate of the stage.</param>
/// <param name="MilestoneFractions">Where the learning rate drops x0.1, as fractions of <paramref name="Epochs"/>.</param>
/// <param name="MethodSettings">A value-equal record of the method's own settings that change the trained module (sizes, temperatures).</param>
internal sealed record TeacherStageDefinition(
    string Phase, string What, long Stream, int Epochs, double LearningRate, IReadOnlyList<double> MilestoneFractions, object MethodSettings);

/// <summary>
/// Runs a <see cref="TeacherStageDefinition"/>: trains a module on the frozen, eval-mode teacher through the shared engine (the teacher
/// network itself does not train), or takes its weights from <see cref="TeacherStageCache"/> when the same teacher, data and settings
/// trained it before. The stage is seeded from the training seed and its own stream and leaves the process-wide generator as it found
/// it, so the student is the same whether the module came from the cache or not. It writes no checkpoints: a resumed student retrains
/// (or reuses) the module, with the same result.
/// </summary>
internal static class TeacherStage
{
    /// <summary>Everything the trained weights depend on besides the teacher object.</summary>
    private sealed record Key(
        string Phase, object MethodSettings, string DataFingerprint, int Epochs, double LearningRate, string Milestones, int BatchSize, double Momentum, bool Nesterov,
        double WeightDecay, int Seed, int RandomCropPadding, bool HorizontalFlip, string Device, string NormalizationMean, string NormalizationStd);

    /// <summary>
    /// The trained module (the caller owns it): created by <paramref name="createModule"/> under the stage's seed, then loaded from the
    /// cache or trained with the loss <paramref name="createLoss"/> makes for it.
    /// </summary>
    public static TModule Train<TModule>(
        TrainedClassifier teacher, LossPreparation context, TeacherStageDefinition stage, Func<TModule> createModule,
        Func<TModule, IDistillationLoss> createLoss, Action<TrainingMetrics>? metricsCallback)
        where TModule : torch.nn.Module
    {
        var settings = context.Settings;
        int seed = SeedDerivation.Derive(settings.Seed, stage.Stream, 0);
        var key = new Key(
            stage.Phase, stage.MethodSettings, TeacherStageCache.Fingerprint(context.Train), stage.Epochs, stage.LearningRate,
            Join(stage.MilestoneFractions.Select(f => (float)f)), settings.BatchSize,
            settings.Momentum, settings.Nesterov, settings.WeightDecay, seed, settings.RandomCropPadding, settings.HorizontalFlip,
            settings.Device.type.ToString(), Join(context.Normalization.Mean), Join(context.Normalization.Std));

        // The module's initialisation and this stage must not move the process-wide generator, or the student would depend on
        // whether the module came from the cache.
        using var savedState = torch.random.get_rng_state();
        try
        {
            using var generator = torch.random.manual_seed(seed);
            var module = createModule();
            if (TeacherStageCache.TryLoad(teacher, key, module))
            {
                context.Channel.Info(MessageSensitivity.None,
                    $"{stage.Phase}: reusing {stage.What}, trained earlier on the same teacher, data and settings (in this process or, in a sweep's folder, before).");
                return module;
            }

            context.Channel.Info(MessageSensitivity.None, $"{stage.Phase}: training {stage.What} on the frozen teacher for {stage.Epochs} epochs.");
            TeacherStageCache.CountTraining(teacher);
            var run = new TrainingSettings
            {
                Phase = stage.Phase,
                Epochs = stage.Epochs,
                BatchSize = settings.BatchSize,
                Schedule = new LearningRateSchedule(stage.LearningRate, LearningRateSchedule.ScaledMilestones(stage.Epochs, stage.MilestoneFractions), 0.1),
                Momentum = settings.Momentum,
                Nesterov = settings.Nesterov,
                WeightDecay = settings.WeightDecay,
                Seed = seed,
                Device = settings.Device,
                RandomCropPadding = settings.RandomCropPadding,
                HorizontalFlip = settings.HorizontalFlip,
                Trainable = TrainableParts.None,
                CancellationToken = settings.CancellationToken,
            };
            try
            {
                new TrainingEngine(context.Channel, metricsCallback)
                    .Run(teacher.Network, null, createLoss(module), context.Train, null, context.Normalization, run);
            }
            catch
            {
                module.Dispose();
                throw;
            }

            TeacherStageCache.Store(teacher, key, module);
            return module;
        }
        finally
        {
            torch.random.set_rng_state(savedState);
        }
    }

    private static string Join(IEnumerable<float> values) => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
}
