// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation;

/// <summary>What a <see cref="DistillationMethod"/> sees of one training step.</summary>
/// <remarks>The tensors belong to the step: read them in <see cref="DistillationMethod.Compute"/>, do not keep them past it. In
/// <see cref="DistillationMethod.OnStepEnd"/> the network outputs are empty tensors (released after the loss); the labels, positions
/// and rows are valid.</remarks>
public sealed class DistillationStep
{
    private readonly TrainingStep _step;

    internal DistillationStep(Tensor studentLogits, Tensor studentEmbedding, Tensor teacherLogits, Tensor teacherEmbedding, Tensor labels,
        TrainingStep step, nn.Module? module)
    {
        StudentLogits = studentLogits;
        StudentEmbedding = studentEmbedding;
        TeacherLogits = teacherLogits;
        TeacherEmbedding = teacherEmbedding;
        Labels = labels;
        _step = step;
        Module = module;
    }

    /// <summary>The student's class logits, [B, K], float32, with gradient.</summary>
    public Tensor StudentLogits { get; }

    /// <summary>The student's pooled embedding (the input of its classifier), [B, D], with gradient.</summary>
    public Tensor StudentEmbedding { get; }

    /// <summary>The frozen teacher's class logits, [B, K], without gradient.</summary>
    public Tensor TeacherLogits { get; }

    /// <summary>The teacher's pooled embedding, [B, D_t], without gradient.</summary>
    public Tensor TeacherEmbedding { get; }

    /// <summary>Class indices 0..K−1 of the batch (the label key minus one), [B], int64.</summary>
    public Tensor Labels { get; }

    /// <summary>0-based epoch.</summary>
    public int Epoch => _step.Epoch;

    /// <summary>Epochs of the training.</summary>
    public int EpochCount => _step.EpochCount;

    /// <summary>0-based step within the epoch.</summary>
    public int StepIndex => _step.Index;

    /// <summary>Dataset rows (0-based, in the order the training data was read) of the batch's B images, in batch order.</summary>
    public IReadOnlyList<int> RowIndices => _step.RowIndices;

    /// <summary>A seed for the method's own random draws at this step, derived from (training seed, epoch, step).</summary>
    public long Seed => _step.Seed;

    /// <summary>The module <see cref="DistillationMethod.CreateModule"/> created for this training, or null.</summary>
    public nn.Module? Module { get; }

    /// <summary>A torch generator seeded with <see cref="Seed"/> on the training device; dispose it after use.</summary>
    public Generator CreateGenerator() => _step.CreateGenerator(Labels.device);
}
