// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Msfd;

/// <summary>
/// Contrastive distillation through multi-scale feature decoupling (MSFD; Wang, Chen, Wang, arXiv 2502.05835), <b>as we read it from
/// the abstracts</b>: the paper's method section and code were not available, so this follows distillers-more.md §7's reconstruction.
/// Each chosen stage map of both networks is average-pooled onto g x g grids for each g in the scales ("decoupled" into local
/// vectors). Sample-wise term: at every scale and grid position, the student's L2-normalised local vector of an image must pick the
/// teacher's vector of the same image among the batch's (InfoNCE with temperature τ, and the same with teacher anchors).
/// Feature-wise term: at every scale, each channel's vector over the batch and positions must pick the same channel of the other
/// network. Both are means over scales (the sample-wise one of the means over each scale's positions), each the average of its two
/// directions, so every scale weighs the same. Only the batch is used: no bank.
/// </summary>
internal sealed class MsfdLoss(double crossEntropyWeight, double distillationWeight, double temperature, double sampleWeight, double featureWeight,
    double contrastTemperature, IReadOnlyList<int> grids, IReadOnlyList<(int Student, int Teacher)> stages, ChannelAdapters? adapters)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "msfd_sample", "msfd_feature"), IDisposable
{
    public double SampleWeight { get; } = sampleWeight;

    public double FeatureWeight { get; } = featureWeight;

    public double ContrastTemperature { get; } = contrastTemperature;

    public IReadOnlyList<int> Grids { get; } = grids;

    /// <summary>Pairs of (student stage, teacher stage) indices into the networks' taps.</summary>
    public IReadOnlyList<(int Student, int Teacher)> Stages { get; } = stages;

    /// <summary>1x1 convolutions (with batch norm) from the student's channels to the teacher's where they differ, or null.</summary>
    public ChannelAdapters? Adapters { get; } = adapters;

    public override bool UsesTeacherFeatures => true;

    public override nn.Module? TrainableModule => Adapters;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        Tensor? sample = null, feature = null;
        for (int i = 0; i < Stages.Count; i++)
        {
            var (s, t) = Stages[i];
            var studentMap = Adapters is null ? student.Features[s] : Adapters.Apply(i, student.Features[s]);
            var teacherMap = teacher.Features[t];
            var sw = SampleWise(studentMap, teacherMap, Grids, ContrastTemperature);
            var fw = FeatureWise(studentMap, teacherMap, Grids, ContrastTemperature);
            sample = sample is null ? sw : sample + sw;
            feature = feature is null ? fw : feature + fw;
        }

        yield return sample! * (SampleWeight / Stages.Count);
        yield return feature! * (FeatureWeight / Stages.Count);
    }

    /// <summary>Mean over scales of the mean over positions of the symmetric InfoNCE between the two networks' local vectors of the batch's images.</summary>
    public static Tensor SampleWise(Tensor student, Tensor teacher, IReadOnlyList<int> grids, double temperature)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (int g in grids)
        {
            var s = Local(student, g);   // [P, B, C]
            var t = Local(teacher, g);
            long p = s.shape[0], b = s.shape[1];
            var targets = arange(b, device: s.device).repeat(p);
            var studentAnchors = s.bmm(t.transpose(1, 2)).div(temperature).reshape(p * b, b);
            var teacherAnchors = t.bmm(s.transpose(1, 2)).div(temperature).reshape(p * b, b);
            // The mean over this scale's positions and images, both directions averaged; every scale then weighs the same.
            var term = (nn.functional.cross_entropy(studentAnchors, targets) + nn.functional.cross_entropy(teacherAnchors, targets)) / 2;
            total = total is null ? term : total + term;
        }

        return (total! / grids.Count).MoveToOuterDisposeScope();
    }

    /// <summary>Mean over scales of the symmetric InfoNCE between the two networks' channels (vectors over the batch and positions).</summary>
    public static Tensor FeatureWise(Tensor student, Tensor teacher, IReadOnlyList<int> grids, double temperature)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (int g in grids)
        {
            var s = Channels(student, g);   // [C, B·P]
            var t = Channels(teacher, g);
            var targets = arange(s.shape[0], device: s.device);
            var term = (nn.functional.cross_entropy(s.matmul(t.t()).div(temperature), targets)
                + nn.functional.cross_entropy(t.matmul(s.t()).div(temperature), targets)) / 2;
            total = total is null ? term : total + term;
        }

        return (total! / grids.Count).MoveToOuterDisposeScope();
    }

    /// <summary>The map pooled onto a g x g grid, as [g², B, C] L2-normalised local vectors.</summary>
    private static Tensor Local(Tensor map, int grid)
    {
        var pooled = nn.functional.adaptive_avg_pool2d(map, [grid, grid]);
        var local = pooled.flatten(2).permute(2, 0, 1);
        return nn.functional.normalize(local, p: 2, dim: 2);
    }

    /// <summary>The map pooled onto a g x g grid, as [C, B·g²] L2-normalised channel vectors.</summary>
    private static Tensor Channels(Tensor map, int grid)
    {
        var pooled = nn.functional.adaptive_avg_pool2d(map, [grid, grid]);
        return nn.functional.normalize(pooled.transpose(0, 1).reshape(pooled.shape[1], -1), p: 2, dim: 1);
    }

    public void Dispose() => Adapters?.Dispose();
}
