// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Distillers;

/// <summary>Everything a loss sees for one step: network outputs over the rotation-expanded batch, and the labels.</summary>
internal sealed class LossBatch
{
    public LossBatch(NetworkOutput student, NetworkOutput? teacher, Tensor labels, Tensor jointLabels, int rotationCount, TrainingStep? step = null)
    {
        Student = student;
        Teacher = teacher;
        Labels = labels;
        JointLabels = jointLabels;
        RotationCount = rotationCount;
        Step = step ?? TrainingStep.Single;
    }

    /// <summary>Where in the training this step is: epoch, step, the batch's dataset rows, a seed for the loss's own randomness.</summary>
    public TrainingStep Step { get; }

    /// <summary>The network being trained, over 4B rows (row 4i+j = sample i rotated j quarter-turns).</summary>
    public NetworkOutput Student { get; }

    /// <summary>
    /// The frozen teacher over the same rows (no gradient), or null when training without one. Its
    /// <see cref="NetworkOutput.Features"/> are empty unless the loss says <see cref="IDistillationLoss.UsesTeacherFeatures"/>.
    /// </summary>
    public NetworkOutput? Teacher { get; }

    /// <summary>Class indices of the B original samples, [B], int64.</summary>
    public Tensor Labels { get; }

    /// <summary>Joint (class x rotation) labels of all 4B rows, [4B], int64.</summary>
    public Tensor JointLabels { get; }

    /// <summary>M: rows per original sample.</summary>
    public int RotationCount { get; }
}

/// <summary>
/// Where a training step stands, for losses that depend on it (warm-ups and curricula need the epoch, memory banks the dataset rows,
/// sampling a generator). Every value is a function of the seed, the data and the position, so a resumed run sees the same ones.
/// </summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="EpochCount">Epochs of the stage.</param>
/// <param name="Index">0-based step within the epoch.</param>
/// <param name="RowIndices">Dataset rows (0-based, in the order the data was read) of the batch's B original images, in batch order.</param>
/// <param name="Seed">Seed for the loss's own random draws at this step, derived from (training seed, epoch, step); see <see cref="CreateGenerator"/>.</param>
internal sealed record TrainingStep(int Epoch, int EpochCount, int Index, int[] RowIndices, long Seed)
{
    /// <summary>A stand-in for losses computed outside a training run (tests, benchmarks): epoch 0 of 1, step 0, no rows.</summary>
    public static TrainingStep Single { get; } = new(0, 1, 0, [], 0);

    /// <summary>A torch generator seeded with <see cref="Seed"/>; the caller disposes it.</summary>
    public Generator CreateGenerator(Device? device = null) => new Generator((ulong)Seed, device ?? CPU);
}

/// <summary>The loss of one step: the total to back-propagate and its named terms (already weighted), for progress reports.</summary>
internal sealed class LossResult
{
    public LossResult(Tensor total, IReadOnlyList<KeyValuePair<string, Tensor>> terms)
    {
        Total = total;
        Terms = terms;
    }

    /// <summary>Scalar to call backward on.</summary>
    public Tensor Total { get; }

    /// <summary>Weighted terms in a fixed order; they add up to <see cref="Total"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> Terms { get; }
}

/// <summary>
/// A training objective: a pure function of tensors. It never touches IDataView, files or the optimiser;
/// adding a method means adding one of these.
/// </summary>
internal interface IDistillationLoss
{
    /// <summary>Names of the terms <see cref="Compute"/> returns, in order.</summary>
    IReadOnlyList<string> TermNames { get; }

    /// <summary>True when <see cref="LossBatch.Teacher"/> must be present.</summary>
    bool RequiresTeacher { get; }

    /// <summary>True when the auxiliary branches (of the student, and of the teacher when there is one) must be computed.</summary>
    bool UsesAuxiliaryBranches { get; }

    /// <summary>
    /// True when every image is fed at all four rotations (HSAKD's self-supervised augmented task); false when the
    /// networks see the B original images only (then <see cref="LossBatch.JointLabels"/> equals the labels and M is 1).
    /// </summary>
    bool UsesRotations { get; }

    /// <summary>
    /// How the four views of an image are cropped when <see cref="UsesRotations"/> is true. False (HSAKD): one random crop and flip per
    /// image, then the four rotations of it. True (SSKD, hsakd-sskd.md §3.1): one flip per image, then each rotated view gets its own crop.
    /// </summary>
    bool CropsEachView => false;

    /// <summary>
    /// Parameters the loss itself owns and trains together with the network (SSKD's projection head of the student), or null.
    /// The engine moves it to the training device, adds its parameters to the optimiser, switches it to train mode, and stores it in
    /// checkpoints. It is not part of the fitted model.
    /// </summary>
    nn.Module? TrainableModule => null;

    /// <summary>
    /// How the optimiser treats <see cref="TrainableModule"/>'s parameters when a method's paper trains them differently from the network
    /// (another weight decay, a scaled learning rate), or null (default) to treat them as the network's. They then form their own
    /// parameter group of the same SGD optimiser (same momentum and Nesterov setting, same schedule).
    /// </summary>
    ModuleOptimization? TrainableModuleOptimization => null;

    /// <summary>
    /// True when <see cref="Compute"/> reads the teacher's tap features (<see cref="NetworkOutput.Features"/>). When false the
    /// engine releases them right after the teacher's forward, to save memory.
    /// </summary>
    bool UsesTeacherFeatures => false;

    /// <summary>
    /// True when <see cref="Compute"/> reads nothing of the teacher but its main logits (KD, DKD): such a method accepts a teacher
    /// that gives logits only (an ONNX teacher). False (the default) for everything that reads its embedding, features or branches.
    /// </summary>
    bool ReadsTeacherLogitsOnly => false;

    /// <summary>
    /// True when <see cref="Compute"/> reads the auxiliary branches' final maps (<see cref="NetworkOutput.AuxMaps"/>, before their
    /// pooling; MixSKD's self-teacher); then <see cref="UsesAuxiliaryBranches"/> must be true as well. False by default.
    /// </summary>
    bool UsesAuxiliaryMaps => false;

    /// <summary>
    /// The rows the networks see this step, from the batch's prepared (augmented, normalised, rotation-expanded) rows: the default
    /// returns them unchanged. A method may append rows of its own after them (MixSKD's mixup images, drawn from
    /// <paramref name="step"/>'s seed); the batch's own rows must stay first and in order, as the engine's accuracy reads them there.
    /// </summary>
    Tensor ExtendInputs(Tensor inputs, Tensor labels, TrainingStep step) => inputs;

    /// <summary>Computes the loss of one step.</summary>
    LossResult Compute(LossBatch batch);

    /// <summary>
    /// Values the loss reports at the end of each epoch beside its terms (CTKD's learned temperature), or null. They appear in
    /// <see cref="TrainingMetrics.Diagnostics"/>; they are not part of the loss.
    /// </summary>
    IReadOnlyDictionary<string, double>? EpochDiagnostics() => null;

    /// <summary>
    /// Called after the optimiser step, without gradient tracking (state updates such as memory banks). The batch's network outputs
    /// have been released by then; only <see cref="LossBatch.Step"/> and the labels are valid.
    /// </summary>
    void OnStepEnd(LossBatch batch)
    {
    }
}

/// <summary>Optimiser settings of a loss's own parameters that differ from the network's.</summary>
/// <param name="LearningRateFactor">Their learning rate is the schedule's times this (1: the same).</param>
/// <param name="WeightDecay">Their weight decay, or null for the network's.</param>
internal sealed record ModuleOptimization(double LearningRateFactor = 1, double? WeightDecay = null);
