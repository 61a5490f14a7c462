// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Msfd;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Contrastive distillation through multi-scale feature decoupling (MSFD), as we read the paper (see <see cref="MsfdOptions"/>).
/// Create it with <c>mlContext.Distillation.Msfd</c>. Any teacher and student families: maps of different sizes meet on the pooled
/// grids, and where channel counts differ a learned 1x1 convolution (trained with the student, not shipped) maps the student's.
/// </summary>
public sealed class MsfdEstimator : FeatureDistillationEstimatorBase<MsfdOptions>
{
    internal MsfdEstimator(IHostEnvironment env, ITransformer teacher, MsfdOptions options)
        : base(env, options, "MSFD", teacher)
    {
        LossOptionsValidation.CheckWeight(options.SampleWeight, nameof(options.SampleWeight));
        LossOptionsValidation.CheckWeight(options.FeatureWeight, nameof(options.FeatureWeight));
        LossOptionsValidation.CheckTemperature(options.ContrastTemperature, nameof(options.ContrastTemperature));
        if (options.Grids is not { Length: > 0 } || options.Grids.Any(g => g < 1))
            throw new ArgumentOutOfRangeException(nameof(options.Grids), options.Grids is null ? "null" : string.Join(", ", options.Grids),
                "Grids must hold at least one grid size, each at least 1 (1: the whole map).");
    }

    private protected override IDistillationLoss CreateLoss() => Loss([], adapters: null);

    /// <summary>Pairs the stages and creates adapters where the widths differ, after the training seed is set.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var teacher = Teacher!;
        var studentTaps = TapShapes.Of(context.Network, context.Train.Shape);
        var teacherTaps = TapShapes.Of(teacher.Network, teacher.Shape);
        var stages = Options.AllStages
            ? Enumerable.Range(0, Math.Min(studentTaps.Count, teacherTaps.Count)).Select(i => (i, i)).ToArray()
            : [(studentTaps.Count - 1, teacherTaps.Count - 1)];
        var widths = stages.Select(p => (studentTaps[p.Item1].Channels, teacherTaps[p.Item2].Channels)).ToArray();
        var adapters = widths.All(w => w.Item1 == w.Item2) ? null : new ChannelAdapters(widths);
        return Loss(stages, adapters);
    }

    private MsfdLoss Loss(IReadOnlyList<(int, int)> stages, ChannelAdapters? adapters)
        => new(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.SampleWeight, Options.FeatureWeight,
            Options.ContrastTemperature, Options.Grids.ToArray(), stages, adapters);
}
