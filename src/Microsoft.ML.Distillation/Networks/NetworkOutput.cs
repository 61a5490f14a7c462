// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// What one forward pass of a <see cref="ClassifierNetwork"/> produces. Every distiller finds what it needs here
/// without knowing the architecture.
/// </summary>
/// <remarks>The tensors belong to the caller's dispose scope.</remarks>
internal sealed class NetworkOutput
{
    public NetworkOutput(Tensor logits, Tensor embedding, IReadOnlyList<Tensor> features, IReadOnlyList<Tensor> auxLogits,
        IReadOnlyList<Tensor>? auxMaps = null, Tensor? pooledMap = null)
    {
        PooledMap = pooledMap;
        Logits = logits;
        Embedding = embedding;
        Features = features;
        AuxLogits = auxLogits;
        AuxMaps = auxMaps ?? [];
        Peers = [];
    }

    /// <summary>
    /// The output of a group of peer networks trained together (online distillation): every peer's output in <paramref name="peers"/>,
    /// and peer 0's as this output's own fields, so that what reads one network (the step's accuracy, the validation) reads peer 0.
    /// </summary>
    public NetworkOutput(IReadOnlyList<NetworkOutput> peers)
        : this(peers[0].Logits, peers[0].Embedding, peers[0].Features, peers[0].AuxLogits, peers[0].AuxMaps, peers[0].PooledMap)
    {
        Peers = peers;
    }

    /// <summary>Main-head logits, [B, K].</summary>
    public Tensor Logits { get; }

    /// <summary>Globally pooled feature that feeds the main linear head, [B, D].</summary>
    public Tensor Embedding { get; }

    /// <summary>Stage features at the taps, shallow to deep (one per auxiliary branch), each [B, C_l, H_l, W_l].</summary>
    public IReadOnlyList<Tensor> Features { get; }

    /// <summary>Auxiliary-branch logits over the joint (class x rotation) label space, [B, 4K] each; empty when not computed.</summary>
    public IReadOnlyList<Tensor> AuxLogits { get; }

    /// <summary>
    /// Each auxiliary branch's final map, the input of its pooling and head ([B, C, H, W]), when the network was asked for them
    /// (<see cref="ClassifierNetwork.KeepAuxiliaryMaps"/>); else empty.
    /// </summary>
    public IReadOnlyList<Tensor> AuxMaps { get; }

    /// <summary>
    /// The map the main head pools into <see cref="Embedding"/> ([B, D, H, W]; the last of <see cref="Features"/> for most families, the
    /// map after WRN's final BN + ReLU or a last 1x1 convolution for others), or null where the network does not give it (a frozen
    /// teacher, an ONNX teacher).
    /// </summary>
    public Tensor? PooledMap { get; }

    /// <summary>Every peer's output when a peer group ran (peer 0 first), else empty.</summary>
    public IReadOnlyList<NetworkOutput> Peers { get; }
}
