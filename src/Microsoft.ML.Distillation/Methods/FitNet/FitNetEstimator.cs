// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.FitNet;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// FitNets hint learning (Romero et al., ICLR 2015): the student's middle-stage map, through a learned regressor, approximates the
/// teacher's. Create it with <c>mlContext.Distillation.FitNet</c>. Any teacher and student families whose hint maps the regressor can
/// join (the student's map twice, half, or at least the teacher's size); otherwise the fit is refused before training, with the sizes.
/// The regressor trains with the student and is not part of the fitted model.
/// </summary>
public sealed class FitNetEstimator : FeatureDistillationEstimatorBase<FitNetOptions>
{
    internal FitNetEstimator(IHostEnvironment env, ITransformer teacher, FitNetOptions options)
        : base(env, options, "FitNet", teacher)
    {
        LossOptionsValidation.CheckWeight(options.HintWeight, nameof(options.HintWeight));
        if (options.HintStage is int stage && stage < 0)
            throw new ArgumentOutOfRangeException(nameof(options.HintStage), stage, "HintStage must be 0 or more (0: the first stage), or null for the middle stage.");
    }

    private protected override IDistillationLoss CreateLoss() => Loss(0, 0, regressor: null);

    /// <summary>The regressor is sized from both networks' hint maps and created here, after the training seed is set.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var teacher = Teacher!;
        var studentTaps = TapShapes.Of(context.Network, context.Train.Shape);
        var teacherTaps = TapShapes.Of(teacher.Network, teacher.Shape);
        int studentStage = Options.HintStage ?? (studentTaps.Count - 1) / 2;
        int teacherStage = Options.HintStage ?? (teacherTaps.Count - 1) / 2;
        if (studentStage >= studentTaps.Count || teacherStage >= teacherTaps.Count)
            throw new ArgumentOutOfRangeException(nameof(Options.HintStage), Options.HintStage,
                $"HintStage {Options.HintStage} does not exist: the student '{Options.Architecture}' has {studentTaps.Count} stages and the teacher " +
                $"'{teacher.Network.Architecture}' {teacherTaps.Count} (0-based).");
        return Loss(studentStage, teacherStage, new HintRegressor(studentTaps[studentStage], teacherTaps[teacherStage]));
    }

    private FitNetLoss Loss(int studentStage, int teacherStage, HintRegressor? regressor)
        => new(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.HintWeight, studentStage, teacherStage, regressor);
}
