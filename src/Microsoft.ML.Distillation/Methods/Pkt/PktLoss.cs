// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Pkt;

/// <summary>
/// Probabilistic knowledge transfer (Passalis and Tefas, ECCV 2018; distillers.md §3.1, as RepDistiller) on the pooled embeddings:
/// each side's cosine-similarity matrix of the batch is mapped to [0, 1] by (s + 1) / 2 and its rows normalised to distributions;
/// <c>L_PKT = mean_ij p_t,ij · log((p_t,ij + ε) / (p_s,ij + ε))</c>, ε = 1e-7 (also added to the norms). Embedding widths may differ.
/// </summary>
internal sealed class PktLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "pkt")
{
    private const double Epsilon = 1e-7;

    public double Weight { get; } = weight;

    public override bool UsesTeacherFeatures => false;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        yield return Transfer(student.Embedding, teacher.Embedding) * Weight;
    }

    /// <summary>The PKT divergence between the batch affinity distributions of two [B, D] embeddings.</summary>
    public static Tensor Transfer(Tensor student, Tensor teacher)
    {
        using var scope = NewDisposeScope();
        var s = Affinities(student);
        var t = Affinities(teacher);
        return (t * ((t + Epsilon) / (s + Epsilon)).log()).mean().MoveToOuterDisposeScope();
    }

    private static Tensor Affinities(Tensor embedding)
    {
        var unit = embedding / (embedding.square().sum(1, keepdim: true).sqrt() + Epsilon);
        var similarity = (unit.matmul(unit.t()) + 1) / 2;
        return similarity / similarity.sum(1, keepdim: true);
    }
}
