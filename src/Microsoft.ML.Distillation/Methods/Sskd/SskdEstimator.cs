// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using Microsoft.ML.Distillation.Methods.Sskd;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// SSKD student ("Knowledge Distillation Meets Self-Supervision", hsakd-sskd.md §3): every image is seen at four rotations, each view
/// with its own random crop. Besides the classic KD terms, the student mimics, for every rotated view, the teacher's softmax over its
/// cosine similarities to the batch's unrotated images (a contrastive, relational signal), computed on projection heads of the pooled
/// features; rows where the teacher itself is too wrong are left out (error-level ranking). Create it with <c>mlContext.Distillation.Sskd</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `Image` (input) | as the teacher's (same shape and preprocessing; square) | training images |
/// | `Label` (input) | key, the same classes in the same order as the teacher's | the class |
/// | `Score`, `PredictedLabel` (output) | `Vector<Single>` of K, key | as every classifier of this library |
///
/// ### Stages
/// 1. The teacher (any fitted teacher of this library; its auxiliary branches are not used) is frozen in eval mode.
/// 2. Its projection head is trained for `TeacherHeadEpochs` on the frozen teacher (cross-entropy over the similarity rows), then
///    cached with the teacher object: further SSKD students over the same data and stage-2 settings reuse it. This stage writes no
///    checkpoints; a resumed student retrains (or reuses) the head, with the same result, since it is seeded.
/// 3. The student and its own projection head train with the SSKD loss. The fitted student carries neither head.
///
/// Teacher and student may be of any two families (no auxiliary branches are paired).
/// ]]></format>
/// </remarks>
public sealed class SskdEstimator : TeacherStudentEstimatorBase<SskdOptions>
{
    /// <summary>Seed stream of the teacher-head stage in <see cref="SeedDerivation"/>.</summary>
    internal const int TeacherHeadStream = 7;

    /// <summary>The reference's stage-2 schedule (30 and 45 of 60 epochs), as fractions of <see cref="SskdOptions.TeacherHeadEpochs"/>.</summary>
    internal static readonly double[] TeacherHeadFractions = [0.5, 0.75];

    internal SskdEstimator(IHostEnvironment env, ITransformer teacher, SskdOptions options)
        : base(env, options, "SSKD", teacher)
    {
        LossOptionsValidation.CheckWeight(options.CrossEntropyWeight, nameof(options.CrossEntropyWeight));
        LossOptionsValidation.CheckWeight(options.DistillationWeight, nameof(options.DistillationWeight));
        LossOptionsValidation.CheckTemperature(options.Temperature, nameof(options.Temperature));
        LossOptionsValidation.CheckWeight(options.RotatedDistillationWeight, nameof(options.RotatedDistillationWeight));
        LossOptionsValidation.CheckTemperature(options.RotatedTemperature, nameof(options.RotatedTemperature));
        LossOptionsValidation.CheckRatio(options.RotatedSelectionRatio, nameof(options.RotatedSelectionRatio));
        LossOptionsValidation.CheckWeight(options.SimilarityWeight, nameof(options.SimilarityWeight));
        LossOptionsValidation.CheckTemperature(options.SimilarityTemperature, nameof(options.SimilarityTemperature));
        LossOptionsValidation.CheckRatio(options.SimilaritySelectionRatio, nameof(options.SimilaritySelectionRatio));
        if (options.TeacherHeadEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(options.TeacherHeadEpochs), options.TeacherHeadEpochs,
                "TeacherHeadEpochs must be at least 1: SSKD needs the teacher's projection head trained.");
        if (!(options.TeacherHeadLearningRate > 0) || double.IsInfinity(options.TeacherHeadLearningRate))
            throw new ArgumentOutOfRangeException(nameof(options.TeacherHeadLearningRate), options.TeacherHeadLearningRate,
                "TeacherHeadLearningRate must be a positive, finite number.");
    }

    private protected override bool PairsAuxiliaryBranches => false;

    private SskdLossSettings LossSettings => new()
    {
        CrossEntropyWeight = Options.CrossEntropyWeight,
        DistillationWeight = Options.DistillationWeight,
        Temperature = Options.Temperature,
        RotatedDistillationWeight = Options.RotatedDistillationWeight,
        RotatedTemperature = Options.RotatedTemperature,
        RotatedRatio = Options.RotatedSelectionRatio,
        SimilarityWeight = Options.SimilarityWeight,
        SimilarityTemperature = Options.SimilarityTemperature,
        SimilarityRatio = Options.SimilaritySelectionRatio,
    };

    /// <summary>The loss's shape (rotations, per-view crops, teacher) for the checks before training; the heads come in <see cref="PrepareLoss"/>.</summary>
    private protected override IDistillationLoss CreateLoss() => new SskdLoss(LossSettings, studentHead: null, teacherHead: null);

    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var device = context.Settings.Device;
        var studentHead = new ProjectionHead(context.Network.EmbeddingSize);
        ProjectionHead? teacherHead = null;
        try
        {
            teacherHead = TeacherHead(context);
            return new SskdLoss(LossSettings, studentHead, teacherHead.to(device));
        }
        catch
        {
            studentHead.Dispose();
            teacherHead?.Dispose();
            throw;
        }
    }

    /// <summary>The teacher's trained head: from the cache, or trained now on the frozen teacher (stage 2) and cached.</summary>
    private ProjectionHead TeacherHead(LossPreparation context)
    {
        var stage = new TeacherStageDefinition("SSKD teacher head", "the teacher's projection head (stage 2)", TeacherHeadStream,
            Options.TeacherHeadEpochs, Options.TeacherHeadLearningRate, TeacherHeadFractions, MethodSettings: "SSKD");
        var teacher = Teacher!;
        return TeacherStage.Train(teacher, context, stage, () => new ProjectionHead(teacher.Network.EmbeddingSize),
            head => new SskdTeacherHeadLoss(head), Options.MetricsCallback);
    }
}
