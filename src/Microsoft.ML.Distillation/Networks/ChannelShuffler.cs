// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The ShuffleNet channel shuffle: [N, C, H, W] viewed as [N, g, C/g, H, W], the two group axes swapped, and flattened back,
/// so that channel <c>i * (C/g) + j</c> moves to position <c>j * g + i</c>. With g = 1 it is the identity.
/// </summary>
internal static class ChannelShuffler
{
    /// <summary>Shuffles the channels of <paramref name="input"/> in <paramref name="groups"/> groups (a new tensor unless g = 1).</summary>
    /// <exception cref="ArgumentException">The channel count is not divisible by <paramref name="groups"/>.</exception>
    public static Tensor Shuffle(Tensor input, int groups)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        if (groups == 1)
        {
            return input;
        }

        long n = input.shape[0], c = input.shape[1], h = input.shape[2], w = input.shape[3];
        if (c % groups != 0)
        {
            throw new ArgumentException($"{c} channels cannot be shuffled in {groups} groups.", nameof(input));
        }

        return input.view(n, groups, c / groups, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w);
    }
}
