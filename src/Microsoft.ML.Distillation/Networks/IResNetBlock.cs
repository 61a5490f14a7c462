// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// A residual block family that <see cref="ResNetBackbone{TBlock}"/> stacks into stages: how many channels a block of width
/// p outputs, how a stage of such blocks is built, and the layers of one block (read by the ONNX writer).
/// </summary>
/// <typeparam name="TSelf">The block type itself.</typeparam>
internal interface IResNetBlock<TSelf>
    where TSelf : IResNetBlock<TSelf>
{
    /// <summary>Output channels per unit of width: 1 for basic blocks, 4 for bottleneck blocks.</summary>
    static abstract int Expansion { get; }

    /// <summary>
    /// <c>S(p, n, s)</c>: <paramref name="blocks"/> blocks of width <paramref name="width"/> (p · <see cref="Expansion"/>
    /// channels out); the first has stride <paramref name="stride"/>, the rest stride 1. Children are named 0..n-1.
    /// </summary>
    static abstract Sequential Stage(int inChannels, int width, int blocks, int stride);

    /// <summary>State-dict name of the projection shortcut (<c>downsample</c> in torchvision, <c>shortcut</c> in resnetv2).</summary>
    static abstract string ProjectionName { get; }

    /// <summary>
    /// The residual branch: its convolutions with the batch norm after each, in forward order, a ReLU between consecutive
    /// pairs; the block's output is <c>ReLU(branch(x) + shortcut(x))</c>.
    /// </summary>
    IReadOnlyList<(Conv2d Convolution, BatchNorm2d Norm)> Body { get; }

    /// <summary>The 1x1 projection shortcut and its batch norm, or null for the identity shortcut.</summary>
    (Conv2d Convolution, BatchNorm2d Norm)? Projection { get; }
}
