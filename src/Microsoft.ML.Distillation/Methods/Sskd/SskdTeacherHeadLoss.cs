// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.SelfSupervision;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// SSKD's teacher stage 2 (hsakd-sskd.md §3.3): only the teacher's projection head g_t trains, on the frozen, eval-mode teacher. Over a
/// batch of B images at four rotations (each view cropped on its own), <c>A = cos(g_t(f(aug)), g_t(f(normal)))</c> is [3B, B] and
/// the loss is <c>CE(A, ⌊r / 3⌋)</c> on the raw cosines (no temperature): each rotated view must find its own image among the batch.
/// The network this loss is run with is the teacher, trained with <c>TrainableParts.None</c>.
/// </summary>
internal sealed class SskdTeacherHeadLoss : IDistillationLoss
{
    private readonly ProjectionHead _head;

    /// <param name="head">g_t: the head to train (owned by the caller).</param>
    public SskdTeacherHeadLoss(ProjectionHead head) => _head = head;

    /// <inheritdoc/>
    public IReadOnlyList<string> TermNames { get; } = ["similarity_ce"];

    /// <inheritdoc/>
    public bool RequiresTeacher => false;

    /// <inheritdoc/>
    public bool UsesAuxiliaryBranches => false;

    /// <inheritdoc/>
    public bool UsesRotations => true;

    /// <inheritdoc/>
    public bool CropsEachView => true;

    /// <inheritdoc/>
    public nn.Module? TrainableModule => _head;

    /// <inheritdoc/>
    public LossResult Compute(LossBatch batch)
    {
        var similarity = ViewSimilarity.Matrix(_head.call(batch.Student.Embedding.detach()));
        var loss = LossFunctions.CrossEntropy(similarity, ViewSimilarity.Targets(batch.Labels.shape[0], similarity.device));
        return new LossResult(loss, [new("similarity_ce", loss)]);
    }
}
