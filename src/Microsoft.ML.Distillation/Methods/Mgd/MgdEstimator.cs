// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Mgd;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Multi-granularity distillation on a KD base (Shao &amp; Chen): the student learns the teacher's outputs and, through two encoders of
/// its own, the teacher's output re-expressed at two granularities. Create it with <c>mlContext.Distillation.Mgd</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `Image` (input) | as the teacher's (same shape and preprocessing) | training images |
/// | `Label` (input) | key, the same classes in the same order as the teacher's | the class |
/// | `Score`, `PredictedLabel` (output) | `Vector<Single>` of K, key | as every classifier of this library |
///
/// ### Stages
/// 1. The teacher (any fitted teacher of this library; its auxiliary branches are not used) is frozen in eval mode.
/// 2. Its two granularity branches (encoder d → d → 64 or 256, decoder back to the classes) train on its pooled embedding for
///    `TeacherBranchEpochs`, then are cached with the teacher object: further MGD students over the same data and branch settings reuse
///    them. This stage writes no checkpoints; a resumed student retrains (or reuses) the branches, with the same result, since it is seeded.
/// 3. The student and its two encoders train with the MGD loss. The fitted student carries neither encoders nor branches.
///
/// Teacher and student may be of any two families.
/// ]]></format>
/// </remarks>
public sealed class MgdEstimator : TeacherStudentEstimatorBase<MgdOptions>
{
    /// <summary>Seed stream of the branch pre-stage in <see cref="Data.SeedDerivation"/> (above the epoch numbers the batch order uses).</summary>
    internal const long TeacherBranchStream = (1L << 32) + 12;

    /// <summary>The reference's pre-stage schedule (x0.1 at 30 and 45 of 60 epochs), as fractions of <see cref="MgdOptions.TeacherBranchEpochs"/>.</summary>
    internal static readonly double[] TeacherBranchFractions = [0.5, 0.75];

    internal MgdEstimator(IHostEnvironment env, ITransformer teacher, MgdOptions options)
        : base(env, options, "MGD", teacher)
    {
        LossOptionsValidation.CheckTemperature(options.Temperature, nameof(options.Temperature));
        LossOptionsValidation.CheckWeight(options.CrossEntropyWeight, nameof(options.CrossEntropyWeight));
        LossOptionsValidation.CheckWeight(options.DistillationWeight, nameof(options.DistillationWeight));
        LossOptionsValidation.CheckWeight(options.GranularityWeight, nameof(options.GranularityWeight));
        LossOptionsValidation.CheckTemperature(options.NarrowTemperature, nameof(options.NarrowTemperature));
        LossOptionsValidation.CheckTemperature(options.WideTemperature, nameof(options.WideTemperature));
        CheckCodeSize(options.NarrowCodeSize, nameof(options.NarrowCodeSize));
        CheckCodeSize(options.WideCodeSize, nameof(options.WideCodeSize));
        if (options.Contrast is not null)
            CrdEstimator.Validate(options.Contrast);
        if (options.TeacherBranchEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(options.TeacherBranchEpochs), options.TeacherBranchEpochs,
                "TeacherBranchEpochs must be at least 1: MGD needs the teacher's granularity branches trained.");
        if (!(options.TeacherBranchLearningRate > 0) || double.IsInfinity(options.TeacherBranchLearningRate))
            throw new ArgumentOutOfRangeException(nameof(options.TeacherBranchLearningRate), options.TeacherBranchLearningRate,
                "TeacherBranchLearningRate must be a positive, finite number.");
    }

    private static void CheckCodeSize(int size, string name)
    {
        if (size < 1)
            throw new ArgumentOutOfRangeException(name, size, $"{name} must be at least 1 (the reference uses 64 and 256).");
    }

    private protected override bool PairsAuxiliaryBranches => false;

    private Granularities Granularities => new(Options.NarrowCodeSize, Options.NarrowTemperature, Options.WideCodeSize, Options.WideTemperature);

    private MgdLossSettings LossSettings => new()
    {
        CrossEntropyWeight = Options.CrossEntropyWeight,
        DistillationWeight = Options.DistillationWeight,
        Temperature = Options.Temperature,
        GranularityWeight = Options.GranularityWeight,
        StableExcitation = Options.StableExcitation,
        Granularities = Granularities,
    };

    /// <summary>The loss's shape for the checks before training; the modules come in <see cref="PrepareLoss"/>.</summary>
    private protected override IDistillationLoss CreateLoss()
        => new MgdLoss(LossSettings, studentEncoders: null, teacherBranches: null, withContrast: Options.Contrast is not null);

    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var granularities = Granularities;
        var studentEncoders = new StudentGranularityEncoders(context.Network.EmbeddingSize, granularities);
        TeacherGranularityBranches? teacherBranches = null;
        try
        {
            var teacher = Teacher!;
            var stage = new TeacherStageDefinition("MGD teacher branches", "the teacher's granularity branches", TeacherBranchStream,
                Options.TeacherBranchEpochs, Options.TeacherBranchLearningRate, TeacherBranchFractions, granularities);
            teacherBranches = TeacherStage.Train(teacher, context, stage,
                () => new TeacherGranularityBranches(teacher.Network.EmbeddingSize, teacher.ClassCount, granularities),
                branches => new MgdTeacherBranchLoss(branches, granularities), Options.MetricsCallback);
            if (Options.Contrast is not CrdOptions crd)
                return new MgdLoss(LossSettings, studentEncoders, teacherBranches.to(context.Settings.Device));
            var contrast = CrdEstimator.CreateTerm(crd, context, teacher.Network.EmbeddingSize);
            return new MgdLoss(LossSettings, studentEncoders, teacherBranches.to(context.Settings.Device), withContrast: true, contrast, crd.ContrastWeight);
        }
        catch
        {
            studentEncoders.Dispose();
            teacherBranches?.Dispose();
            throw;
        }
    }
}
