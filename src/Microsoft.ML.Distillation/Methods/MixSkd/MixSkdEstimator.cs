// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.MixSkd;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// MixSKD: a network distils itself from mixup pairs, with its auxiliary branches (over the K classes, no rotations) and a
/// self-teacher; no teacher. The networks see each batch twice (clean and mixed), so a step costs about two plain steps. Inference is
/// the backbone and its head alone. Create it with <c>mlContext.Distillation.MixSkd</c>.
/// </summary>
public sealed class MixSkdEstimator : ImageClassifierEstimatorBase<MixSkdOptions>
{
    internal MixSkdEstimator(IHostEnvironment env, MixSkdOptions options)
        : base(env, options, "MixSKD")
    {
        if (!(options.MixupAlpha > 0) || double.IsInfinity(options.MixupAlpha))
            throw new ArgumentOutOfRangeException(nameof(options.MixupAlpha), options.MixupAlpha, "MixupAlpha must be a positive, finite number (0.4 in the paper's CIFAR runs).");
        LossOptionsValidation.CheckTemperature(options.Temperature);
    }

    private protected override IDistillationLoss CreateLoss() => new MixSkdLoss(Options.MixupAlpha, Options.Temperature);

    /// <summary>The code's 5 warm-up epochs of 205, scaled: ⌈Epochs · 5 / 205⌉.</summary>
    private protected override int DefaultWarmupEpochs => (int)Math.Ceiling(Options.Epochs * 5.0 / 205);

    /// <summary>The auxiliary branches classify the K classes (no rotation task).</summary>
    private protected override ClassifierNetwork CreateNetwork(ImageTensorDataset train, Device device, IChannel channel)
        => NetworkRegistry.Create(Options.Architecture, train.Shape.Channels, train.ClassCount, rotationCount: 1);

    /// <summary>Sizes the self-teacher from the final maps of one probe forward; they must share height and width.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var maps = TapShapes.OfAuxiliaryMaps(context.Network, context.Train.Shape).Append(TapShapes.OfPooledMap(context.Network, context.Train.Shape)).ToArray();
        if (maps.Any(m => m.Height != maps[^1].Height || m.Width != maps[^1].Width))
            throw new ArgumentException(
                $"MixSKD's self-teacher concatenates the final maps of '{Options.Architecture}''s auxiliary branches and backbone, which must share height and width; "
                + $"for {context.Train.Shape} images they are [{string.Join(", ", maps.Select(m => $"{m.Channels}x{m.Height}x{m.Width}"))}].",
                nameof(Options.Architecture));
        ((MixSkdLoss)loss).Prepare(maps.Select(m => m.Channels).ToArray(), context.Train.ClassCount);
        return loss;
    }
}
