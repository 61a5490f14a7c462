// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.MixSkd;

/// <summary>
/// MixSKD (Yang et al., ECCV 2022; distillers-more.md §3, in the form it recommends: the ImageNet script's objective without the
/// discriminators). Each step appends the batch's mixup images x~ = λx + (1−λ)x[π] (λ ~ Beta(α, α), π a permutation, both from the
/// step's seed) and runs one forward over [x; x~]. With K classifiers (the auxiliary branches, then the backbone's head), their logits
/// z_k and final maps F_k, interpolations z̄_k = λ z_k[x] + (1−λ) z_k[x][π] and F̄_k likewise, and the self-teacher's outputs
/// t̄ = head(F̄_1..F̄_K), t~ = head(F~_1..F~_K):
/// <code>
/// L = Σ_k CE(z_k[x], y)                                                         "ce"
///   + Σ_k mixCE(z_k[x~]) + mixCE(t̄) + mixCE(t~)                                  "mix_ce"   mixCE(u) = λ CE(u, y) + (1−λ) CE(u, y[π])
///   + Σ_{k&lt;K} [KL_T(z̄_k, z_k[x~]) + KL_T(z_k[x~], z̄_k)] + KL_T(z̄_K, t~) + KL_T(z_K[x~], t̄)   "kl"  toward the detached side, T = 3
///   + Σ_k MSE(F̄_k, F_k[x~])                                                      "feature"  mean over elements, no detach
/// </code>
/// The backbone's final map is the map its head pools (<see cref="Networks.NetworkOutput.PooledMap"/>). The released CIFAR script leaves mixCE out of its total (which leaves the
/// self-teacher at its initialisation); the ImageNet script, followed here, adds it.
/// </summary>
internal sealed class MixSkdLoss : IDistillationLoss, IDisposable
{
    private SelfTeacherHead? _head;
    private MixupDraw? _draw;

    public MixSkdLoss(double alpha, double temperature)
    {
        Alpha = alpha;
        Temperature = temperature;
    }

    public double Alpha { get; }
    public double Temperature { get; }

    /// <summary>The self-teacher (trained with the network, checkpointed, not part of the fitted model).</summary>
    public SelfTeacherHead Head => _head ?? throw new InvalidOperationException("MixSKD's self-teacher is made by Prepare, before training.");

    public IReadOnlyList<string> TermNames { get; } = ["ce", "mix_ce", "kl", "feature"];

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => true;

    public bool UsesAuxiliaryMaps => true;

    public bool UsesRotations => false;

    public nn.Module? TrainableModule => _head;

    /// <summary>Makes the self-teacher for final maps of these channel counts (branches first, the backbone's last).</summary>
    public void Prepare(IReadOnlyList<long> mapChannels, int classCount)
    {
        _head?.Dispose();
        _head = new SelfTeacherHead(mapChannels.Sum(), mapChannels[^1], classCount);
    }

    /// <summary>Appends the mixup images of this step's pairing after the batch.</summary>
    public Tensor ExtendInputs(Tensor inputs, Tensor labels, TrainingStep step)
    {
        var draw = MixupDraw.For(step.Seed, (int)inputs.shape[0], Alpha);
        _draw = draw;
        using var scope = NewDisposeScope();
        var permutation = tensor(draw.Permutation.Select(i => (long)i).ToArray(), device: inputs.device);
        var mixed = inputs * draw.Lambda + inputs.index_select(0, permutation) * (1 - draw.Lambda);
        return cat([inputs, mixed], 0).MoveToOuterDisposeScope();
    }

    public LossResult Compute(LossBatch batch)
    {
        var draw = _draw ?? throw new InvalidOperationException("MixSKD computes its loss over the rows ExtendInputs made.");
        _draw = null; // one pairing per step: a step that skipped ExtendInputs fails instead of reusing it
        var output = batch.Student;
        var labels = batch.Labels;
        long b = labels.shape[0];
        if (output.Logits.shape[0] != 2 * b || output.AuxMaps.Count != output.AuxLogits.Count || output.AuxLogits.Count == 0)
            throw new InvalidOperationException(
                $"MixSKD needs the clean and mixup rows ({2 * b}, got {output.Logits.shape[0]}) and every auxiliary branch's logits and map.");
        double lambda = draw.Lambda;
        var permutation = tensor(draw.Permutation.Select(i => (long)i).ToArray(), device: labels.device);
        var pairedLabels = labels.index_select(0, permutation);

        var logits = output.AuxLogits.Append(output.Logits).ToArray();
        var maps = output.AuxMaps.Append(output.PooledMap ?? throw new InvalidOperationException("MixSKD needs the map the network's head pools.")).ToArray();
        Tensor Clean(Tensor t) => t.narrow(0, 0, b);
        Tensor Mixed(Tensor t) => t.narrow(0, b, b);
        Tensor Interpolated(Tensor t) => Clean(t) * lambda + Clean(t).index_select(0, permutation) * (1 - lambda);
        Tensor MixCe(Tensor u) => LossFunctions.CrossEntropy(u, labels) * lambda + LossFunctions.CrossEntropy(u, pairedLabels) * (1 - lambda);

        var interpolatedMaps = maps.Select(Interpolated).ToArray();
        var mixedMaps = maps.Select(Mixed).ToArray();
        var teacherOfInterpolated = Head.call(interpolatedMaps);
        var teacherOfMixed = Head.call(mixedMaps);

        Tensor ce = zeros([], device: labels.device), mixCe = zeros([], device: labels.device), kl = zeros([], device: labels.device), feature = zeros([], device: labels.device);
        int last = logits.Length - 1;
        for (int k = 0; k < logits.Length; k++)
        {
            ce = ce + LossFunctions.CrossEntropy(Clean(logits[k]), labels);
            mixCe = mixCe + MixCe(Mixed(logits[k]));
            var interpolated = Interpolated(logits[k]);
            kl = k < last
                ? kl + LossFunctions.SoftenedKl(interpolated, Mixed(logits[k]), Temperature) + LossFunctions.SoftenedKl(Mixed(logits[k]), interpolated, Temperature)
                : kl + LossFunctions.SoftenedKl(interpolated, teacherOfMixed, Temperature) + LossFunctions.SoftenedKl(Mixed(logits[k]), teacherOfInterpolated, Temperature);
            feature = feature + nn.functional.mse_loss(interpolatedMaps[k], mixedMaps[k]);
        }
        mixCe = mixCe + MixCe(teacherOfInterpolated) + MixCe(teacherOfMixed);
        return new LossResult(ce + mixCe + kl + feature, [new("ce", ce), new("mix_ce", mixCe), new("kl", kl), new("feature", feature)]);
    }

    public void Dispose() => _head?.Dispose();
}
