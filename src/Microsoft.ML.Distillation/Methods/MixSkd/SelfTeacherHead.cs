// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.MixSkd;

/// <summary>
/// MixSKD's self-teacher ("final auxiliary classifier", distillers-more.md §3): the final maps of every classifier (the auxiliary
/// branches' and the backbone's) concatenated → 1x1 convolution ΣC → C (no bias, no BN, no ReLU) → global average pooling →
/// Linear(C, K). Trained with the network as the loss's module; dropped after training.
/// </summary>
internal sealed class SelfTeacherHead : nn.Module<IReadOnlyList<Tensor>, Tensor>
{
    private readonly Conv2d reduce;
    private readonly Linear fc;

    public SelfTeacherHead(long totalChannels, long width, int classCount)
        : base(nameof(SelfTeacherHead))
    {
        reduce = nn.Conv2d(totalChannels, width, 1, bias: false);
        fc = nn.Linear(width, classCount);
        RegisterComponents();
        NetworkInitialization.KaimingNormalConvolutions(this);
    }

    /// <summary>Logits [B, K] from the maps (each [B, C_k, H, W], one H x W).</summary>
    public override Tensor forward(IReadOnlyList<Tensor> maps)
    {
        using var scope = NewDisposeScope();
        return fc.call(reduce.call(cat(maps.ToArray(), 1)).mean([2, 3])).MoveToOuterDisposeScope();
    }
}
