// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.ZipfLs;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Runtime;
using TorchSharp.Modules;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Zipf's label smoothing (Liang et al., ECCV 2022): a network distils itself, with soft targets over the non-target classes from its
/// own ranking of them. No teacher, no extra parameters; inference is unchanged. Create it with
/// <c>mlContext.Distillation.ZipfLabelSmoothing</c>.
/// </summary>
public sealed class ZipfLsEstimator : ImageClassifierEstimatorBase<ZipfLsOptions>
{
    internal ZipfLsEstimator(IHostEnvironment env, ZipfLsOptions options)
        : base(env, options, "ZipfLS")
    {
        LossOptionsValidation.CheckWeight(options.Weight, nameof(options.Weight));
        if (!(options.Power > 0) || double.IsInfinity(options.Power))
            throw new ArgumentOutOfRangeException(nameof(options.Power), options.Power, "Power must be a positive, finite number (1 in the paper).");
    }

    private protected override IDistillationLoss CreateLoss() => new ZipfLsLoss(Options.Weight, Options.Power, dense: null);

    /// <summary>Finds the main head (the linear layer from the embedding to the classes) for the dense votes.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        if (!Options.DenseRanking)
            return loss;
        var network = context.Network;
        var head = network.Backbone.modules().OfType<Linear>().LastOrDefault(l => l.in_features == network.EmbeddingSize && l.out_features == network.ClassCount);
        int lastMapChannels = (network as BranchedClassifierNetwork)?.TappedBackbone.TapChannels.LastOrDefault() ?? 0;
        if (head is null || lastMapChannels != network.EmbeddingSize)
        {
            context.Channel.Info(MessageSensitivity.None,
                $"ZipfLS: '{Options.Architecture}' has no head that reads its last stage map directly ({(head is null ? "no linear head found" : $"last map {lastMapChannels} channels, head input {network.EmbeddingSize}")}), so the classes are ranked by the logits.");
            return loss;
        }

        return new ZipfLsLoss(Options.Weight, Options.Power, new DenseHead(head, Options.UpsampleMap));
    }
}
