// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.ZipfLs;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Runtime;
using TorchSharp;
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
        string? reason = head is null ? "no linear head from the embedding to the classes" : PooledMapMismatch(network, context.Train.Shape);
        if (reason is not null)
        {
            context.Channel.Info(MessageSensitivity.None,
                $"ZipfLS: the head of '{Options.Architecture}' does not read its last stage map directly ({reason}), so the classes are ranked by the logits.");
            return loss;
        }

        return new ZipfLsLoss(Options.Weight, Options.Power, new DenseHead(head!, Options.UpsampleMap));
    }

    /// <summary>
    /// Null when the embedding the head reads is the average of the last stage map (so the head applied at each position is the
    /// network's own per-position prediction); otherwise why not. Checked with one eval-mode forward of a random image drawn from a
    /// generator of its own (the training's random stream is not touched); a WRN, whose head reads relu(bn(map)), does not qualify.
    /// </summary>
    private static string? PooledMapMismatch(ClassifierNetwork network, ImageShape shape)
    {
        bool wasTraining = network.training, auxiliary = network.ComputeAuxiliary;
        network.eval();
        network.ComputeAuxiliary = false;
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            using var generator = new torch.Generator(7);
            var device = network.parameters().First().device;
            var input = torch.randn(new long[] { 2, shape.Channels, shape.Height, shape.Width }, generator: generator).to(device);
            var output = network.call(input);
            var last = output.Features[^1];
            if (last.shape[1] != output.Embedding.shape[1])
                return $"last map {last.shape[1]} channels, head input {output.Embedding.shape[1]}";
            return last.mean([2, 3]).allclose(output.Embedding, rtol: 1e-4, atol: 1e-5) ? null : "the embedding is not the average of the last stage map";
        }
        finally
        {
            network.ComputeAuxiliary = auxiliary;
            network.train(wasTraining);
        }
    }
}
