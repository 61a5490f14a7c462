// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Online;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Online distillation: M peer networks trained together from scratch in one run, each teaching the others (<see cref="OnlineMethod"/>);
/// no pretrained teacher. Create it with <c>mlContext.Distillation.Online</c>.
/// </summary>
/// <remarks>
/// <para><b>Which peer <c>Fit</c> returns:</b> with a <see cref="TrainingOptions.ValidationSet"/>, the peer with the best accuracy on it
/// after the last epoch (the lowest-numbered on a tie); without one, peer 0. <see cref="FitPeers"/> returns every peer with its
/// validation accuracy. Each returned peer is an ordinary fitted model (save, load, ONNX conversion); what only training used (auxiliary
/// branches' outputs, MCL's embedding heads, FFL's fusion module) is not part of it.</para>
/// <para>Schedules: every method trains with <see cref="TrainingOptions"/>' schedule (by default the HSAKD recipe: LR 0.05, decays at
/// 62.5/75/87.5% of the epochs, batch 64); the MCL and FFL papers' own (LR 0.1, cosine or steps over 300 epochs, batch 128) are not
/// the defaults.</para>
/// <para>Progress reports (<see cref="TrainingOptions.MetricsCallback"/>) give the summed loss terms of all peers; their train and
/// validation accuracies are peer 0's, and the diagnostics <c>peer{m}_train_acc</c> give every peer's train accuracy. Checkpoints hold
/// every peer, the optimiser and the method's modules, so a resumed run equals an uninterrupted one.</para>
/// </remarks>
public sealed class OnlineEstimator : ImageClassifierEstimatorBase<OnlineOptions>
{
    private OnlinePeers? _collected;
    private bool _collect;

    internal OnlineEstimator(IHostEnvironment env, OnlineOptions options)
        : base(env, options, PhaseOf(options))
    {
        if (options.PeerArchitectures is { } given)
        {
            if (given.Length < 2)
                throw new ArgumentException($"PeerArchitectures lists {given.Length} network(s); online distillation needs at least 2.", nameof(options.PeerArchitectures));
            for (int m = 0; m < given.Length; m++)
                NetworkRegistry.Validate(given[m], $"{nameof(options.PeerArchitectures)}[{m}]");
        }
        else if (options.PeerCount < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(options.PeerCount), options.PeerCount, "PeerCount must be at least 2: online distillation trains peers that teach each other.");
        }

        var peers = options.Peers;
        if (options.Method == OnlineMethod.Hsakd)
        {
            var branches = peers.Select(NetworkRegistry.AuxiliaryBranchCount).ToArray();
            if (branches.Distinct().Count() != 1)
                throw new ArgumentException(
                    $"HSAKD online pairs the peers' auxiliary branches one-to-one, but [{string.Join(", ", peers)}] have [{string.Join(", ", branches)}] branches. " +
                    "Choose peers with as many branches (the README's Networks table), or Method = Mcl.", nameof(options.PeerArchitectures));
        }
        else if (options.Method is not (OnlineMethod.Mcl or OnlineMethod.Ffl))
        {
            throw new ArgumentOutOfRangeException(nameof(options.Method), options.Method, "Method must be Hsakd, Mcl or Ffl.");
        }

        LossOptionsValidation.CheckTemperature(options.Temperature);
        LossOptionsValidation.CheckTemperature(options.ContrastTemperature, nameof(options.ContrastTemperature));
        if (options.EmbeddingWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(options.EmbeddingWidth), options.EmbeddingWidth, "EmbeddingWidth must be at least 1 (128 in the paper).");
        LossOptionsValidation.CheckWeight(options.VanillaContrastWeight, nameof(options.VanillaContrastWeight));
        LossOptionsValidation.CheckWeight(options.SoftVanillaContrastWeight, nameof(options.SoftVanillaContrastWeight));
        LossOptionsValidation.CheckWeight(options.InteractiveContrastWeight, nameof(options.InteractiveContrastWeight));
        LossOptionsValidation.CheckWeight(options.SoftInteractiveContrastWeight, nameof(options.SoftInteractiveContrastWeight));
        LossOptionsValidation.CheckWeight(options.EnsembleDistillationWeight, nameof(options.EnsembleDistillationWeight));
        LossOptionsValidation.CheckWeight(options.FusionWeightDecay, nameof(options.FusionWeightDecay));
        if (options.FusionRampUpEpochs is < 0)
            throw new ArgumentOutOfRangeException(nameof(options.FusionRampUpEpochs), options.FusionRampUpEpochs, "FusionRampUpEpochs must be >= 0 (0: no ramp-up), or null for the scaled default.");
    }

    /// <summary>
    /// Trains every peer and returns them all, with the validation accuracy of each and the one <c>Fit</c> would return. The caller
    /// owns the result (dispose it, or the peers, when done).
    /// </summary>
    /// <param name="input">Training data, as for <c>Fit</c>.</param>
    public OnlinePeers FitPeers(IDataView input)
    {
        lock (TrainingGate.Lock)
        {
            _collect = true;
            try
            {
                Fit(input);
                return _collected ?? throw new InvalidOperationException("The online training ended without its peers.");
            }
            finally
            {
                _collect = false;
                _collected = null;
            }
        }
    }

    private static string PhaseOf(OnlineOptions options) => options?.Method switch
    {
        OnlineMethod.Mcl => "MCL",
        OnlineMethod.Ffl => options.MfefBlocks ? "FFL-MFEF" : "FFL",
        _ => "HSAKD-online",
    };

    private protected override string CheckpointArchitecture => PeerGroupNetwork.NameOf(Options.Peers);

    private protected override ClassifierNetwork CreateNetwork(ImageTensorDataset train, Device device, IChannel channel)
    {
        var members = new List<ClassifierNetwork>();
        try
        {
            foreach (var architecture in Options.Peers)
                members.Add(NetworkRegistry.Create(architecture, train.Shape.Channels, train.ClassCount));
            return new PeerGroupNetwork(members);
        }
        catch
        {
            foreach (var member in members)
                member.Dispose();
            throw;
        }
    }

    private protected override IDistillationLoss CreateLoss() => Options.Method switch
    {
        OnlineMethod.Mcl => new MclLoss(new MclSettings(Options.ContrastTemperature, Options.Temperature, Options.VanillaContrastWeight,
            Options.SoftVanillaContrastWeight, Options.InteractiveContrastWeight, Options.SoftInteractiveContrastWeight, Options.EnsembleDistillationWeight),
            Options.Peers.Count),
        OnlineMethod.Ffl => new FflLoss(Options.Peers.Count, Options.Temperature,
            Options.FusionRampUpEpochs ?? (int)Math.Ceiling(Options.Epochs * 80.0 / 300), Options.FusionWeightDecay, Options.MfefBlocks),
        _ => new OnlineHsakdLoss(Options.Temperature, Options.Peers.Count),
    };

    /// <summary>
    /// MCL's embedding heads and FFL's fusion module are sized by the peers (embedding widths; last maps, which must agree in height
    /// and width for FFL): they are made once the networks exist, before the first step.
    /// </summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var members = ((PeerGroupNetwork)context.Network).Members;
        if (loss is MclLoss mcl)
            mcl.Prepare(members.Select(m => m.EmbeddingSize).ToArray(), Options.EmbeddingWidth);
        if (loss is FflLoss ffl)
        {
            var maps = members.Select(m => TapShapes.OfPooledMap(m, context.Train.Shape)).ToArray();
            if (maps.Any(s => s.Height != maps[0].Height || s.Width != maps[0].Width))
                throw new ArgumentException(
                    $"FFL fuses the maps the peers' heads pool, which must have the same height and width; for {context.Train.Shape} images the peers "
                    + $"[{string.Join(", ", Options.Peers)}] give [{string.Join(", ", maps.Select(s => $"{s.Height}x{s.Width}"))}]. Choose peers of one family, or Method = Mcl.",
                    nameof(OnlineOptions.PeerArchitectures));
            ffl.Prepare(maps.Select(s => s.Channels).ToArray(), context.Train.ClassCount);
        }
        return loss;
    }

    /// <summary>Separates the peers into fitted models, scores each on the validation set, and returns the documented one.</summary>
    private protected override ImageClassifierTransformer Finish(TrainingOutcome outcome)
    {
        var group = (PeerGroupNetwork)outcome.Network;
        var device = outcome.Settings.Device;
        var normalization = outcome.Normalization;
        var models = new List<ImageClassifierTransformer>();
        try
        {
            foreach (var member in group.Members)
            {
                var network = StandaloneCopy(member, device);
                var own = ChannelNormalization.FromValues(normalization.Mean.ToArray(), normalization.Std.ToArray(), member.InputChannels);
                models.Add(outcome.Wrap(network, own));
            }

            double[]? accuracies = outcome.Validation is null ? null
                : models.Select(m => TrainingEngine.Evaluate(m.Model.Network, outcome.Validation, m.Model.Normalization, Options.BatchSize, device)).ToArray();
            int selected = accuracies is null ? 0 : Array.IndexOf(accuracies, accuracies.Max());
            var peers = new OnlinePeers(models, Options.Peers.ToArray(), selected, accuracies);
            outcome.Channel.Info(MessageSensitivity.None, Phase + ": " + peers.Describe());
            group.Dispose();
            normalization.Dispose();
            if (_collect)
            {
                _collected = peers;
            }
            else
            {
                for (int m = 0; m < models.Count; m++)
                {
                    if (m != selected)
                        models[m].Dispose();
                }
            }
            return models[selected];
        }
        catch
        {
            foreach (var model in models)
                model.Dispose();
            throw;
        }
    }

    /// <summary>A network of its own with <paramref name="member"/>'s weights, outside the group (the group is disposed after training).</summary>
    private static ClassifierNetwork StandaloneCopy(ClassifierNetwork member, Device device)
    {
        using var rngState = torch.random.get_rng_state(); // building the copy draws initial weights; leave the generator as it was
        var copy = NetworkRegistry.Create(member.Architecture, member.InputChannels, member.ClassCount, member.RotationCount);
        torch.random.set_rng_state(rngState);
        try
        {
            copy.to(device);
            using (no_grad())
            using (NewDisposeScope())
                copy.load_state_dict(member.state_dict());
            copy.eval();
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }
}
