// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp.Modules;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// A residual block family that <see cref="ResNetBackbone{TBlock}"/> stacks into stages: how many channels a block of width
/// p outputs, and how a stage of such blocks is built.
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
}
