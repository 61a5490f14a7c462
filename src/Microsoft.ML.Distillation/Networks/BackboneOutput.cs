// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// What a <see cref="TappedBackbone"/> produces in one pass: main logits, the pooled embedding that feeds the
/// main head, and the stage features at the auxiliary taps (shallow to deep).
/// </summary>
/// <param name="Logits">Main-head logits, [B, K].</param>
/// <param name="Embedding">Globally pooled feature before the main linear head, [B, D].</param>
/// <param name="Taps">Stage features at the taps, each [B, C_l, H_l, W_l].</param>
/// <param name="PooledMap">
/// The map the main head pools into <paramref name="Embedding"/>, [B, D, H, W]: the last tap itself for most families, a map after it
/// for others (WRN's final BN + ReLU, MobileNetV2's and ShuffleNetV2's last 1x1 convolution).
/// </param>
internal readonly record struct BackboneOutput(Tensor Logits, Tensor Embedding, IReadOnlyList<Tensor> Taps, Tensor PooledMap)
{
    /// <summary>Promotes every tensor one dispose scope outwards and returns this value.</summary>
    public BackboneOutput MoveToOuterDisposeScope()
    {
        Logits.MoveToOuterDisposeScope();
        Embedding.MoveToOuterDisposeScope();
        foreach (var tap in Taps)
        {
            tap.MoveToOuterDisposeScope();
        }

        // Moving the same tensor twice would take it two scopes out.
        var pooled = PooledMap;
        if (!Taps.Any(tap => ReferenceEquals(tap, pooled)))
        {
            PooledMap.MoveToOuterDisposeScope();
        }

        return this;
    }
}
