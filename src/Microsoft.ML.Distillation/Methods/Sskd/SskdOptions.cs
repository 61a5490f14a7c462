// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Estimators;
namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.Sskd</c>, "Knowledge Distillation Meets Self-Supervision" (Xu et al., ECCV 2020), with the
/// reference code's defaults (hsakd-sskd.md §3.4):
/// <c>L = 0.1·CE + 0.9·KD(T=4) + 2.7·KD on rotated views (T=4) + 10·KL of the similarity rows (T=0.5)</c>, error-level selection
/// ratios 1.0 and 0.75, SGD with momentum 0.9 without Nesterov. Before the first SSKD student of a teacher, the teacher's projection
/// head is trained for <see cref="TeacherHeadEpochs"/> epochs on the frozen teacher ("stage 2"); that head is cached with the teacher,
/// so a sweep of students over the same data with the same seed pays for it once.
/// </summary>
/// <remarks>
/// The reference trains MobileNetV2 and ShuffleNet students with <see cref="TrainingOptions.LearningRate"/> 0.01 instead of 0.05.
/// </remarks>
public sealed class SskdOptions : StudentOptions
{
    /// <summary>Creates options with the documented defaults (<see cref="TrainingOptions.Nesterov"/> false, as in the reference).</summary>
    public SskdOptions()
    {
        Nesterov = false;
    }

    /// <summary>Weight of the cross-entropy with the labels on the unrotated images. Default 0.1.</summary>
    public double CrossEntropyWeight = 0.1;

    /// <summary>Weight of the classic KD term on the unrotated images. Default 0.9.</summary>
    public double DistillationWeight = 0.9;

    /// <summary>Temperature of the classic KD term. Default 4.</summary>
    public double Temperature = 4;

    /// <summary>Weight of the KD term on the rotated views (the selected rows). Default 2.7.</summary>
    public double RotatedDistillationWeight = 2.7;

    /// <summary>Temperature of the KD term on the rotated views. Default 4.</summary>
    public double RotatedTemperature = 4;

    /// <summary>
    /// Share of the rotated views the teacher misclassifies that still take part in the rotated KD term, those whose true class the
    /// teacher ranks highest first (views it classifies correctly always do). Default 1 (all).
    /// </summary>
    public double RotatedSelectionRatio = 1.0;

    /// <summary>Weight of the KL term between the student's and the teacher's similarity rows. Default 10.</summary>
    public double SimilarityWeight = 10;

    /// <summary>Temperature of the similarity term (softmax over the batch's unrotated images). Default 0.5.</summary>
    public double SimilarityTemperature = 0.5;

    /// <summary>
    /// Share of the similarity rows on which the teacher is wrong (its most similar unrotated image is not the view's own) that still
    /// take part in the similarity term, the least wrong first. Default 0.75.
    /// </summary>
    public double SimilaritySelectionRatio = 0.75;

    /// <summary>Epochs of the teacher's projection-head training (stage 2). Default 60; the rate drops x0.1 at 50 % and 75 % of them (rounded
    /// down; as for <see cref="TrainingOptions.LearningRateMilestones"/>, a drop that rounds to epoch 0 is left out, so a
    /// 1-epoch stage trains at <see cref="TeacherHeadLearningRate"/>).</summary>
    public int TeacherHeadEpochs = 60;

    /// <summary>Initial learning rate of the teacher's projection-head training. Default 0.05.</summary>
    public double TeacherHeadLearningRate = 0.05;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal override IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new SskdEstimator(env, teacher, this);
}
