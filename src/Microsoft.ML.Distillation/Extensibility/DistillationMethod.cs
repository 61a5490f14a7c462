// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation;

/// <summary>
/// A distillation method written outside this library: the loss of one training step from the student's and the frozen teacher's
/// outputs. Train a student with it through <c>mlContext.Distillation.Distill(teacher, method, options)</c>; everything else
/// (data, augmentation, optimiser, schedule, checkpoints and resume, cancellation, progress, the fitted model) is the library's.
/// </summary>
/// <remarks>
/// <para>The networks see the batch's B original (unrotated) images. <see cref="Compute"/> returns the loss as named, already
/// weighted terms; their sum is back-propagated into the student (and into <see cref="CreateModule"/>'s parameters) and each term's
/// epoch mean appears in <see cref="TrainingMetrics.LossTerms"/>.</para>
/// <para>A method with learned parts or state (a projection head, a memory bank) creates them in <see cref="CreateModule"/>: the
/// module's parameters are optimised with the student's (same optimiser and schedule; see <see cref="ModuleWeightDecay"/> and
/// <see cref="ModuleLearningRateFactor"/> for methods that train them differently), and its parameters and registered
/// buffers are saved in every checkpoint and restored on <c>Resume</c>, so a resumed run equals an uninterrupted one. The module is
/// not part of the fitted model. Randomness must come from <see cref="DistillationStep.CreateGenerator"/>, which is seeded from
/// (seed, epoch, step), for the same reason.</para>
/// <para>One instance is used by one training at a time; <see cref="CreateModule"/> is called once at the start of each training.</para>
/// </remarks>
public abstract class DistillationMethod
{
    /// <summary>The method's name, used as the training phase in progress reports and checkpoints (e.g. "KD-LS").</summary>
    public abstract string Name { get; }

    /// <summary>Names of the terms <see cref="Compute"/> returns, in the same order.</summary>
    public abstract IReadOnlyList<string> TermNames { get; }

    /// <summary>
    /// Learned parameters and state of the method (see the remarks), or null (the default) when it has none. Called once per training,
    /// after the student is created under the training seed and before the first step (and before a checkpoint is restored into it).
    /// </summary>
    /// <param name="setup">The sizes of the data and the networks.</param>
    public virtual nn.Module? CreateModule(DistillationSetup setup) => null;

    /// <summary>
    /// Weight decay of the module's parameters, when the method's paper trains them with another than the student's (for example
    /// 1e-5 for a fusion module); null (the default) uses the student's <see cref="TrainingOptions.WeightDecay"/>.
    /// </summary>
    public virtual double? ModuleWeightDecay => null;

    /// <summary>
    /// Factor of the module's learning rate over the student's scheduled one (it follows the same schedule); 1 (the default) is the
    /// same rate. Must be positive and finite.
    /// </summary>
    public virtual double ModuleLearningRateFactor => 1;

    /// <summary>
    /// Whether <see cref="Compute"/> reads <see cref="DistillationStep.TeacherEmbedding"/>. Default true. Return false when the method
    /// reads only <see cref="DistillationStep.TeacherLogits"/>: it then also accepts an ONNX teacher
    /// (<c>mlContext.Distillation.LoadOnnxTeacher</c>), which gives logits only (its embedding is an empty [B, 0] tensor).
    /// </summary>
    public virtual bool UsesTeacherEmbedding => true;

    /// <summary>The loss of one step: weighted scalar terms, named and ordered as <see cref="TermNames"/>.</summary>
    public abstract IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep step);

    /// <summary>
    /// Called after the optimiser step, without gradient tracking, for methods that update state (a memory bank by
    /// <see cref="DistillationStep.RowIndices"/>). The step's network outputs are no longer available here: keep what the update needs,
    /// detached, in <see cref="Compute"/>. The default does nothing.
    /// </summary>
    public virtual void OnStepEnd(DistillationStep step)
    {
    }
}
