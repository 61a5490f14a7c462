// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// SSKD's projection head g (hsakd-sskd.md §3.2): <c>Linear(D, D) → ReLU → Linear(D, D)</c> on the pooled embedding of a network,
/// giving the features whose cosine similarities SSKD transfers. It is used in training only; a fitted model does not carry it.
/// </summary>
internal sealed class ProjectionHead : TwoLayerPerceptron
{
    /// <param name="size">D: the embedding size, which is also the output size.</param>
    public ProjectionHead(int size)
        : base(size, size, size, nameof(ProjectionHead))
    {
    }

    /// <summary>D: input and output size.</summary>
    public int Size => InputSize;
}
