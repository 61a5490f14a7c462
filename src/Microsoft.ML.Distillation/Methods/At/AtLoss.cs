// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.At;

/// <summary>
/// Attention transfer (Zagoruyko and Komodakis, ICLR 2017; distillers.md §3.1, as RepDistiller): for each pair of stage maps, the
/// attention map <c>a(f) = L2normalise(flatten(mean over channels of f^p))</c>, and <c>L_AT = Σ_stages mean((a_s − a_t)²)</c>, p = 2.
/// The larger of two maps is average-pooled to the smaller's size first; stages are paired shallow to deep, the first min(count) of
/// each network (RepDistiller zips its lists the same way). Channel counts may differ.
/// </summary>
internal sealed class AtLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight, double power)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "at")
{
    public double Weight { get; } = weight;

    public double Power { get; } = power;

    public override bool UsesTeacherFeatures => true;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        yield return Attention(student.Features, teacher.Features, Power) * Weight;
    }

    /// <summary>The sum over paired stages of <c>mean((a_s − a_t)²)</c>.</summary>
    public static Tensor Attention(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, double power)
    {
        using var scope = NewDisposeScope();
        int pairs = Math.Min(student.Count, teacher.Count);
        Tensor? total = null;
        for (int i = 0; i < pairs; i++)
        {
            var (s, t) = (student[i], teacher[i]);
            if (s.shape[2] * s.shape[3] > t.shape[2] * t.shape[3])
                s = nn.functional.adaptive_avg_pool2d(s, [t.shape[2], t.shape[3]]);
            else if (s.shape[2] * s.shape[3] < t.shape[2] * t.shape[3])
                t = nn.functional.adaptive_avg_pool2d(t, [s.shape[2], s.shape[3]]);
            var term = (Map(s, power) - Map(t, power)).square().mean();
            total = total is null ? term : total + term;
        }

        // No paired stage: a 0-d zero on the networks' device, the shape and place every other term has.
        var device = student.Count > 0 ? student[0].device : teacher.Count > 0 ? teacher[0].device : CPU;
        return (total ?? zeros(1, device: device).sum()).MoveToOuterDisposeScope();
    }

    /// <summary><c>L2normalise(flatten(mean_c f^p))</c>, [B, H·W].</summary>
    public static Tensor Map(Tensor maps, double power)
        => nn.functional.normalize(maps.pow(power).mean([1]).reshape(maps.shape[0], -1), p: 2, dim: 1);
}
