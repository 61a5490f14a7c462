// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// A backbone with its main classifier head whose forward can also expose the stage features at the HSAKD taps.
/// <c>forward(x)</c> returns the main logits only, so the module can be used (and saved) on its own for inference.
/// </summary>
internal abstract class TappedBackbone : nn.Module<Tensor, Tensor>
{
    protected TappedBackbone(string name)
        : base(name)
    {
    }

    /// <summary>Channels of each tap, shallow to deep.</summary>
    public abstract IReadOnlyList<int> TapChannels { get; }

    /// <summary>D: the size of the pooled embedding that feeds the main head.</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>The main head: the linear layer from the pooled embedding to the K class logits.</summary>
    public abstract TorchSharp.Modules.Linear Head { get; }

    /// <summary>Runs the backbone and head, keeping the tap features. The tensors belong to the caller's dispose scope.</summary>
    public abstract BackboneOutput ForwardWithTaps(Tensor input);

    /// <summary>Main logits [B, K].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return ForwardWithTaps(input).Logits.MoveToOuterDisposeScope();
    }
}
