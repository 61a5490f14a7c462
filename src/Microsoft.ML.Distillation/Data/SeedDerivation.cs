// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Derives independent, reproducible seeds from one user seed, so that each epoch's order (and anything else keyed by epoch and
/// batch) depends only on (seed, epoch, batch) and not on what ran before: a resumed run sees the same data as an uninterrupted one.
/// </summary>
internal static class SeedDerivation
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>A non-negative seed for <see cref="Random(int)"/> from <paramref name="seed"/> and up to two counters.</summary>
    public static int Derive(int seed, long stream, long index = 0)
    {
        ulong h = Mix((ulong)(uint)seed + Golden);
        h = Mix(h ^ ((ulong)stream * Golden + 1));
        h = Mix(h ^ ((ulong)index * Golden + 2));
        return (int)(h >> 33);
    }

    /// <summary>The SplitMix64 finaliser: spreads every input bit over the whole output.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
