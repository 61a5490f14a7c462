// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// SSKD's projection head g (hsakd-sskd.md §3.2): <c>Linear(D, D) → ReLU → Linear(D, D)</c> on the pooled embedding of a network,
/// giving the features whose cosine similarities SSKD transfers. It is used in training only; a fitted model does not carry it.
/// </summary>
/// <remarks>PyTorch-default initialisation of both linear layers. State-dict names <c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>, <c>2.bias</c>
/// (the reference's <c>nn.Sequential</c> layout).</remarks>
internal sealed class ProjectionHead : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "0")]
    private readonly Linear _first;

    [ComponentName(Name = "2")]
    private readonly Linear _second;

    /// <param name="size">D: the embedding size, which is also the output size.</param>
    public ProjectionHead(int size)
        : base(nameof(ProjectionHead))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        Size = size;
        _first = nn.Linear(size, size);
        _second = nn.Linear(size, size);
        RegisterComponents();
    }

    /// <summary>D: input and output size.</summary>
    public int Size { get; }

    /// <summary>[R, D] embeddings → [R, D] projected features.</summary>
    public override Tensor forward(Tensor embedding)
    {
        using var scope = NewDisposeScope();
        return _second.call(nn.functional.relu(_first.call(embedding))).MoveToOuterDisposeScope();
    }
}
