// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// A backbone with a main classifier head plus HSAKD auxiliary branches on intermediate stages.
/// State-dict names: everything of the backbone (main head included) under <c>backbone.</c>, the branches under <c>auxiliary.</c>,
/// so a deployed model can carry the backbone alone.
/// </summary>
internal abstract class ClassifierNetwork : nn.Module<Tensor, NetworkOutput>
{
    protected ClassifierNetwork(string name, string architecture, int inputChannels, int classCount, int rotationCount)
        : base(name)
    {
        Architecture = architecture;
        InputChannels = inputChannels;
        ClassCount = classCount;
        RotationCount = rotationCount;
    }

    /// <summary>Registry name, e.g. <c>wrn40_2</c>.</summary>
    public string Architecture { get; }

    /// <summary>Image channels the first convolution expects.</summary>
    public int InputChannels { get; }

    /// <summary>K: the number of classes of the main head.</summary>
    public int ClassCount { get; }

    /// <summary>M: rotations in the joint label space; the auxiliary heads have K*M outputs.</summary>
    public int RotationCount { get; }

    /// <summary>D: the size of the pooled embedding that feeds the main head (<see cref="NetworkOutput.Embedding"/>).</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>Number of auxiliary branches (taps).</summary>
    public abstract int AuxiliaryBranchCount { get; }

    /// <summary>When false, <c>forward</c> skips the auxiliary branches and returns no aux logits.</summary>
    public bool ComputeAuxiliary { get; set; } = true;

    /// <summary>
    /// When true (and <see cref="ComputeAuxiliary"/>), <c>forward</c> also returns each auxiliary branch's final map before its pooling
    /// (<see cref="NetworkOutput.AuxMaps"/>; MixSKD's self-teacher reads them). False by default.
    /// </summary>
    public bool KeepAuxiliaryMaps { get; set; }

    /// <summary>
    /// HSAKD's <c>grad=False</c>: features are detached before entering the auxiliary branches, so aux losses
    /// do not reach the backbone (frozen-backbone teacher mode, and the teacher during distillation).
    /// </summary>
    public bool DetachAuxiliaryInputs { get; set; }

    /// <summary>
    /// Whether CPU training runs faster with channels-last strides (<see cref="Training.ChannelsLast"/>); true for most families,
    /// false where the layout measured slower (ShuffleNet V1: its channel shuffle and grouped 1x1 convolutions).
    /// </summary>
    public bool PrefersChannelsLast { get; init; } = true;

    /// <summary>The backbone with its main head (what inference needs).</summary>
    public abstract nn.Module Backbone { get; }

    /// <summary>The auxiliary branches (training only).</summary>
    public abstract nn.Module Auxiliary { get; }

    /// <summary>
    /// State-dict names of the main head's tensors (its weight [K, D] and bias [K]), e.g. <c>backbone.fc.weight</c>: what is
    /// replaced when pretrained weights come from a network with another class count.
    /// </summary>
    public abstract IReadOnlyList<string> HeadTensorNames { get; }

    /// <summary>Backbone + main head only: logits [B, K]. The fast path for scoring.</summary>
    public abstract Tensor ForwardLogits(Tensor input);
}
