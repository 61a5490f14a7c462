// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sp;

/// <summary>
/// Similarity-preserving KD (Tung and Mori, ICCV 2019; distillers.md §4): on the last stage map, the batch's row-normalised Gram
/// matrices of student and teacher must agree, <c>L_SP = (1/B²) · ‖Ĝ_t − Ĝ_s‖_F²</c> with <c>G = A·Aᵀ</c>, A the maps flattened to
/// B × (C·H·W), each row of G L2-normalised. Channel counts and map sizes may differ: G is B × B on both sides.
/// </summary>
internal sealed class SpLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "sp")
{
    public double Weight { get; } = weight;

    public override bool UsesTeacherFeatures => true;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        yield return Similarity(student.Features[^1], teacher.Features[^1]) * Weight;
    }

    /// <summary><c>(1/B²) · ‖Ĝ_t − Ĝ_s‖_F²</c> of two batches of maps (or any [B, ...] tensors with the same B).</summary>
    public static Tensor Similarity(Tensor student, Tensor teacher)
    {
        using var scope = NewDisposeScope();
        long rows = student.shape[0];
        var difference = NormalizedGram(teacher) - NormalizedGram(student);
        return difference.square().sum().div(rows * rows).MoveToOuterDisposeScope();
    }

    private static Tensor NormalizedGram(Tensor maps)
    {
        var flat = maps.reshape(maps.shape[0], -1);
        return nn.functional.normalize(flat.matmul(flat.t()), p: 2, dim: 1);
    }
}
