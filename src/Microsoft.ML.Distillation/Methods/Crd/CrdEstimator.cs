// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Crd;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Contrastive representation distillation (Tian, Krishnan, Isola, ICLR 2020) with memory banks over the training rows. Create it with
/// <c>mlContext.Distillation.Crd</c>. Any teacher and student families (each side has its own embedding head). The heads, banks and
/// normalisation constants are saved in checkpoints, so a resumed run equals an uninterrupted one; none of them is part of the
/// fitted student.
/// </summary>
public sealed class CrdEstimator : FeatureDistillationEstimatorBase<CrdOptions>
{
    internal CrdEstimator(IHostEnvironment env, ITransformer teacher, CrdOptions options)
        : base(env, options, "CRD", teacher)
    {
        Validate(options);
    }

    /// <summary>Refuses CRD settings that cannot train (also for MGD on a CRD base).</summary>
    internal static void Validate(CrdOptions options)
    {
        LossOptionsValidation.CheckWeight(options.ContrastWeight, nameof(options.ContrastWeight));
        LossOptionsValidation.CheckTemperature(options.ContrastTemperature, nameof(options.ContrastTemperature));
        if (options.EmbeddingWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(options.EmbeddingWidth), options.EmbeddingWidth, "EmbeddingWidth must be at least 1 (128 in the paper).");
        if (options.NegativeCount < 1)
            throw new ArgumentOutOfRangeException(nameof(options.NegativeCount), options.NegativeCount, "NegativeCount must be at least 1 (16384 in the paper).");
        if (!(options.MemoryMomentum >= 0 && options.MemoryMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(options.MemoryMomentum), options.MemoryMomentum, "MemoryMomentum must be in [0, 1) (0.5 in the paper).");
    }

    private protected override IDistillationLoss CreateLoss() => Loss(term: null);

    /// <summary>The heads and banks are sized from the networks and the data and created here, after the training seed is set.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
        => Loss(CreateTerm(Options, context, Teacher!.Network.EmbeddingSize));

    /// <summary>The CRD term for <paramref name="context"/>'s data and networks; warns when negatives must repeat.</summary>
    internal static ContrastiveTerm CreateTerm(CrdOptions options, LossPreparation context, int teacherEmbeddingSize)
    {
        var sampler = new NegativeSampler(context.Train.Labels, context.Train.ClassCount);
        if (sampler.FewestNegatives < options.NegativeCount)
            context.Channel.Warning(MessageSensitivity.None,
                $"CRD: NegativeCount is {options.NegativeCount}, but a sample has only {sampler.FewestNegatives} to {sampler.MostNegatives} rows of other " +
                $"classes among the {sampler.RowCount} training rows. Negatives are drawn with replacement (as in the paper's code), so rows repeat " +
                "among one sample's negatives. On small data sets a NegativeCount near a third of the training rows (the paper's ratio) " +
                "trained better in this library's measurements (docs/benchmarks.md).");
        var memory = new ContrastMemory(context.Network.EmbeddingSize, teacherEmbeddingSize, sampler.RowCount, options.EmbeddingWidth);
        return new ContrastiveTerm(memory, sampler, options.NegativeCount, options.ContrastTemperature, options.MemoryMomentum);
    }

    private CrdLoss Loss(ContrastiveTerm? term)
        => new(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.ContrastWeight, term);
}
