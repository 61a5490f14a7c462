// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The one <see cref="ClassifierNetwork"/> implementation: a <see cref="TappedBackbone"/> (registered as
/// <c>backbone</c>) plus an <see cref="AuxiliaryClassifier"/> (registered as <c>auxiliary</c>) with one branch per tap.
/// The architecture families differ only in how they build those two parts.
/// </summary>
internal sealed class BranchedClassifierNetwork : ClassifierNetwork
{
    [ComponentName(Name = "backbone")]
    private readonly TappedBackbone _backbone;

    [ComponentName(Name = "auxiliary")]
    private readonly AuxiliaryClassifier _auxiliary;

    public BranchedClassifierNetwork(
        string architecture,
        TappedBackbone backbone,
        AuxiliaryClassifier auxiliary,
        int inputChannels,
        int classCount,
        int rotationCount)
        : base(nameof(BranchedClassifierNetwork), architecture, inputChannels, classCount, rotationCount)
    {
        if (backbone.TapChannels.Count != auxiliary.BranchCount)
        {
            throw new ArgumentException(
                $"The backbone has {backbone.TapChannels.Count} taps but the auxiliary module has {auxiliary.BranchCount} branches.",
                nameof(auxiliary));
        }

        if (auxiliary.OutputCount != classCount * rotationCount)
        {
            throw new ArgumentException(
                $"Auxiliary heads have {auxiliary.OutputCount} outputs; expected K*M = {classCount * rotationCount}.",
                nameof(auxiliary));
        }

        _backbone = backbone;
        _auxiliary = auxiliary;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override int AuxiliaryBranchCount => _auxiliary.BranchCount;

    /// <inheritdoc/>
    public override int EmbeddingSize => _backbone.EmbeddingSize;

    /// <inheritdoc/>
    public override nn.Module Backbone => _backbone;

    /// <inheritdoc/>
    public override nn.Module Auxiliary => _auxiliary;

    /// <inheritdoc/>
    public override IReadOnlyList<string> HeadTensorNames
    {
        get
        {
            var head = _backbone.Head;
            string path = _backbone.named_modules().First(m => ReferenceEquals(m.module, head)).name;
            return [.. head.named_parameters().Select(p => $"backbone.{path}.{p.name}")];
        }
    }

    /// <summary>The backbone, typed.</summary>
    public TappedBackbone TappedBackbone => _backbone;

    /// <summary>The auxiliary branches, typed.</summary>
    public AuxiliaryClassifier AuxiliaryClassifier => _auxiliary;

    /// <inheritdoc/>
    public override NetworkOutput forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var backbone = _backbone.ForwardWithTaps(input);

        IReadOnlyList<Tensor> auxLogits = [];
        IReadOnlyList<Tensor> auxMaps = [];
        if (ComputeAuxiliary)
        {
            var auxInputs = DetachAuxiliaryInputs
                ? backbone.Taps.Select(tap => tap.detach()).ToArray()
                : backbone.Taps;
            if (KeepAuxiliaryMaps)
            {
                (auxLogits, auxMaps) = _auxiliary.ForwardWithMaps(auxInputs);
            }
            else
            {
                auxLogits = _auxiliary.call(auxInputs);
            }

            foreach (var tensor in auxLogits.Concat(auxMaps))
            {
                tensor.MoveToOuterDisposeScope();
            }
        }

        backbone.MoveToOuterDisposeScope();
        return new NetworkOutput(backbone.Logits, backbone.Embedding, backbone.Taps, auxLogits, auxMaps, backbone.PooledMap);
    }

    /// <inheritdoc/>
    public override Tensor ForwardLogits(Tensor input) => _backbone.call(input);
}
