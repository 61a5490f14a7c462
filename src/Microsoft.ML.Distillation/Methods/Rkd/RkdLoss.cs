// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Rkd;

/// <summary>
/// Relational KD (Park, Kim, Lu, Cho, CVPR 2019; distillers.md §3.1, as RepDistiller) on the pooled embeddings. Distance term: the
/// batch's pairwise Euclidean distances, each side divided by the mean of its non-zero distances, compared by smooth-L1. Angle term:
/// for every triplet (i, j, k) the cosine of the angle at j between the unit vectors from j to i and from j to k, compared by
/// smooth-L1. <c>L_RKD = w_d · L_distance + w_a · L_angle</c>, defaults 25 and 50. The teacher's side carries no gradient; widths may
/// differ. The angle term costs O(B³ · D) memory and time.
/// </summary>
internal sealed class RkdLoss(double crossEntropyWeight, double distillationWeight, double temperature, double distanceWeight, double angleWeight)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "rkd_distance", "rkd_angle")
{
    public double DistanceWeight { get; } = distanceWeight;

    public double AngleWeight { get; } = angleWeight;

    public override bool UsesTeacherFeatures => false;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        if (student.Embedding.shape[0] < 2)
        {
            // A batch of one sample (the last of an epoch can be) has no pairs: no relation to transfer.
            yield return zeros(1, device: student.Embedding.device).sum();
            yield return zeros(1, device: student.Embedding.device).sum();
            yield break;
        }

        yield return Distance(student.Embedding, teacher.Embedding) * DistanceWeight;
        yield return Angle(student.Embedding, teacher.Embedding) * AngleWeight;
    }

    /// <summary>Smooth-L1 between the mean-normalised pairwise distances of the two [B, D] embeddings.</summary>
    public static Tensor Distance(Tensor student, Tensor teacher)
    {
        using var scope = NewDisposeScope();
        Tensor target;
        using (no_grad())
            target = NormalizedDistances(teacher.detach());
        return nn.functional.smooth_l1_loss(NormalizedDistances(student), target).MoveToOuterDisposeScope();
    }

    /// <summary>Smooth-L1 between the cosines of all triplet angles of the two [B, D] embeddings.</summary>
    public static Tensor Angle(Tensor student, Tensor teacher)
    {
        using var scope = NewDisposeScope();
        Tensor target;
        using (no_grad())
            target = Cosines(teacher.detach());
        return nn.functional.smooth_l1_loss(Cosines(student), target).MoveToOuterDisposeScope();
    }

    private static Tensor NormalizedDistances(Tensor e)
    {
        var squares = e.square().sum(1);
        var distances = (squares.unsqueeze(1) + squares.unsqueeze(0) - 2 * e.matmul(e.t())).clamp_min(1e-12).sqrt();
        distances = distances * (1 - eye(e.shape[0], dtype: e.dtype, device: e.device));
        var positive = distances.gt(0);
        return distances / distances.masked_select(positive).mean();
    }

    private static Tensor Cosines(Tensor e)
    {
        var unit = nn.functional.normalize(e.unsqueeze(0) - e.unsqueeze(1), p: 2, dim: 2);
        return unit.bmm(unit.transpose(1, 2)).reshape(-1);
    }
}
