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
    public NetworkOutput(Tensor logits, Tensor embedding, IReadOnlyList<Tensor> features, IReadOnlyList<Tensor> auxLogits)
    {
        Logits = logits;
        Embedding = embedding;
        Features = features;
        AuxLogits = auxLogits;
    }

    /// <summary>Main-head logits, [B, K].</summary>
    public Tensor Logits { get; }

    /// <summary>Globally pooled feature that feeds the main linear head, [B, D].</summary>
    public Tensor Embedding { get; }

    /// <summary>Stage features at the taps, shallow to deep (one per auxiliary branch), each [B, C_l, H_l, W_l].</summary>
    public IReadOnlyList<Tensor> Features { get; }

    /// <summary>Auxiliary-branch logits over the joint (class x rotation) label space, [B, 4K] each; empty when not computed.</summary>
    public IReadOnlyList<Tensor> AuxLogits { get; }
}
