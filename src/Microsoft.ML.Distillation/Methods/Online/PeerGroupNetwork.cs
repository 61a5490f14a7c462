// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Online;

/// <summary>
/// M peer networks trained together as one network of the engine (online distillation): <c>forward</c> runs every peer on the
/// same rows and returns all their outputs (<see cref="NetworkOutput.Peers"/>), with peer 0's as the output's own fields. The
/// engine's optimiser, checkpoints and resume see every peer's parameters (state-dict names <c>peers.{m}.backbone…</c>); its
/// per-epoch accuracies are peer 0's. Inference uses one peer (<see cref="ForwardLogits"/>: peer 0).
/// </summary>
internal sealed class PeerGroupNetwork : ClassifierNetwork
{
    private readonly ModuleList<ClassifierNetwork> peers;

    // Views over the peers' parts for the engine (which parameters train); made after RegisterComponents, so never registered
    // (the state dict names each tensor once, under peers.{m}).
    private PartsView? _backbones;
    private PartsView? _auxiliaries;

    public PeerGroupNetwork(IReadOnlyList<ClassifierNetwork> members)
        : base(nameof(PeerGroupNetwork), NameOf(members), members[0].InputChannels, members[0].ClassCount, members[0].RotationCount)
    {
        if (members.Count < 2)
            throw new ArgumentException($"A peer group needs at least 2 networks, got {members.Count}.", nameof(members));
        var odd = members.FirstOrDefault(m => m.InputChannels != InputChannels || m.ClassCount != ClassCount || m.RotationCount != RotationCount);
        if (odd is not null)
            throw new ArgumentException(
                $"Peers must share input channels, classes and rotations; '{odd.Architecture}' has {odd.InputChannels}/{odd.ClassCount}/{odd.RotationCount}, "
                + $"peer 0 {InputChannels}/{ClassCount}/{RotationCount}.", nameof(members));
        peers = new ModuleList<ClassifierNetwork>(members.ToArray());
        PrefersChannelsLast = members.All(m => m.PrefersChannelsLast);
        RegisterComponents();
    }

    /// <summary>The group's architecture name: the peers' names joined by '+', e.g. <c>wrn16_2+wrn16_2</c> (checkpoints record it).</summary>
    public static string NameOf(IEnumerable<ClassifierNetwork> members) => NameOf(members.Select(m => m.Architecture));

    /// <inheritdoc cref="NameOf(IEnumerable{ClassifierNetwork})"/>
    public static string NameOf(IEnumerable<string> architectures) => string.Join("+", architectures.Select(NetworkRegistry.Normalize));

    /// <summary>The peers, in order.</summary>
    public IReadOnlyList<ClassifierNetwork> Members => [.. peers];

    /// <inheritdoc/>
    public override int EmbeddingSize => peers[0].EmbeddingSize;

    /// <inheritdoc/>
    public override int AuxiliaryBranchCount => peers[0].AuxiliaryBranchCount;

    /// <inheritdoc/>
    public override nn.Module Backbone => _backbones ??= new PartsView(peers.Select(p => p.Backbone));

    /// <inheritdoc/>
    public override nn.Module Auxiliary => _auxiliaries ??= new PartsView(peers.Select(p => p.Auxiliary));

    /// <inheritdoc/>
    public override IReadOnlyList<string> HeadTensorNames => [.. peers.SelectMany((p, m) => p.HeadTensorNames.Select(n => $"peers.{m}.{n}"))];

    /// <inheritdoc/>
    public override NetworkOutput forward(Tensor input)
    {
        var outputs = new NetworkOutput[peers.Count];
        for (int m = 0; m < peers.Count; m++)
        {
            var peer = peers[m];
            peer.ComputeAuxiliary = ComputeAuxiliary;
            peer.DetachAuxiliaryInputs = DetachAuxiliaryInputs;
            peer.KeepAuxiliaryMaps = KeepAuxiliaryMaps;
            outputs[m] = peer.call(input);
        }
        return new NetworkOutput(outputs);
    }

    /// <summary>Peer 0's logits.</summary>
    public override Tensor ForwardLogits(Tensor input) => peers[0].ForwardLogits(input);

    /// <summary>Disposes the peers (TorchSharp disposes registered submodules), then the unregistered views' own handles.</summary>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _backbones?.Dispose();
            _auxiliaries?.Dispose();
        }
    }

    /// <summary>The same part of every peer, as one module for the engine (parameters, train/eval); it owns nothing.</summary>
    private sealed class PartsView : nn.Module
    {
        public PartsView(IEnumerable<nn.Module> parts)
            : base(nameof(PartsView))
        {
            int m = 0;
            foreach (var part in parts)
                register_module((m++).ToString(System.Globalization.CultureInfo.InvariantCulture), part);
        }
    }
}
