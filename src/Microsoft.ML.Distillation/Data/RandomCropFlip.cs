// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// The CIFAR augmentation on whole batches of raw pixels: pad every image with zeros, take an H x W window at a random offset,
/// then mirror it left-right with probability 1/2 (torchvision's <c>RandomCrop(size, padding)</c> followed by
/// <c>RandomHorizontalFlip()</c>).
/// </summary>
/// <remarks>
/// <para>Apply it to raw pixels, before <see cref="ChannelNormalization"/>: the padding is raw 0 (black), as in torchvision.</para>
/// <para>Output: a new tensor of the input's shape, dtype and device (uint8 stays uint8), in the caller's dispose scope. The
/// work is two <c>gather</c>s with index tensors built from the per-sample offsets; no per-sample tensor ops.</para>
/// <para>Randomness comes from a seeded <see cref="Random"/>: per sample, in order, the row offset, the column offset (each
/// uniform in [0, 2 * padding]) and the flip (<c>Next(2) == 1</c>). The same seed gives the same batches on any device.</para>
/// <para>Not thread-safe (the instance's <see cref="Random"/>).</para>
/// </remarks>
internal sealed class RandomCropFlip
{
    /// <summary>Default zero padding, in pixels, on each side.</summary>
    public const int DefaultPadding = 4;

    private readonly Random _random;

    /// <summary>Creates the augmentation.</summary>
    /// <param name="seed">Seed of the instance's random stream (used by <see cref="Apply(Tensor)"/>).</param>
    /// <param name="padding">Zero padding on each side before cropping; 0 disables the crop.</param>
    /// <param name="horizontalFlip">Whether to mirror half of the images.</param>
    public RandomCropFlip(int seed, int padding = DefaultPadding, bool horizontalFlip = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        _random = new Random(seed);
        Padding = padding;
        HorizontalFlip = horizontalFlip;
    }

    /// <summary>Zero padding on each side; 0 means no crop.</summary>
    public int Padding { get; }

    /// <summary>Whether images are mirrored with probability 1/2.</summary>
    public bool HorizontalFlip { get; }

    /// <summary>True when <see cref="Apply(Tensor)"/> would change anything.</summary>
    public bool IsEnabled => Padding > 0 || HorizontalFlip;

    /// <summary>Augments a batch with the instance's random stream.</summary>
    /// <param name="images">Raw pixels [B, C, H, W], any dtype, any device.</param>
    public Tensor Apply(Tensor images) => Apply(images, _random);

    /// <summary>Augments a batch with offsets and flips drawn from <paramref name="random"/> (for example one seeded per epoch and batch).</summary>
    /// <param name="images">Raw pixels [B, C, H, W], any dtype, any device.</param>
    /// <param name="random">The random stream to draw from.</param>
    public Tensor Apply(Tensor images, Random random)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(random);
        CheckBatch(images);
        int batch = (int)images.shape[0];
        var top = new int[batch];
        var left = new int[batch];
        var flip = new bool[batch];
        int range = (2 * Padding) + 1;
        for (int b = 0; b < batch; b++)
        {
            top[b] = Padding > 0 ? random.Next(range) : 0;
            left[b] = Padding > 0 ? random.Next(range) : 0;
            flip[b] = HorizontalFlip && random.Next(2) == 1;
        }

        return Apply(images, top, left, flip);
    }

    /// <summary>
    /// The deterministic core: pads <paramref name="images"/> by <see cref="Padding"/> zeros, takes for sample b the H x W window
    /// whose top-left corner is (<paramref name="top"/>[b], <paramref name="left"/>[b]) in the padded image, and mirrors it when
    /// <paramref name="flip"/>[b].
    /// </summary>
    /// <exception cref="ArgumentException">The arrays do not have one entry per sample, or an offset is outside [0, 2 * padding].</exception>
    public Tensor Apply(Tensor images, ReadOnlySpan<int> top, ReadOnlySpan<int> left, ReadOnlySpan<bool> flip)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckBatch(images);
        long batch = images.shape[0], channels = images.shape[1], height = images.shape[2], width = images.shape[3];
        if (top.Length != batch || left.Length != batch || flip.Length != batch)
        {
            throw new ArgumentException($"Expected {batch} offsets and flips, one per sample.");
        }

        int p = Padding;
        bool anyCrop = false, anyFlip = false;
        for (int b = 0; b < batch; b++)
        {
            if ((uint)top[b] > 2 * p || (uint)left[b] > 2 * p)
            {
                throw new ArgumentException($"Sample {b}: offsets ({top[b]}, {left[b]}) are outside [0, {2 * p}].");
            }

            anyCrop |= top[b] != p || left[b] != p;
            anyFlip |= flip[b];
        }

        if (!anyCrop && !anyFlip)
        {
            return images.clone();
        }

        using var scope = NewDisposeScope();
        Tensor result;
        if (anyCrop)
        {
            // out[b, c, i, j] = padded[b, c, top[b] + i, left[b] + j], or left[b] + (W - 1 - j) when mirrored: rows first, then columns.
            Tensor padded = nn.functional.pad(images, [p, p, p, p], PaddingModes.Constant, 0);
            Tensor rows = Indices(top, (int)height, default, images.device)
                .view(batch, 1, height, 1).expand(batch, channels, height, width + (2 * p));
            Tensor cols = Indices(left, (int)width, flip, images.device)
                .view(batch, 1, 1, width).expand(batch, channels, height, width);
            result = padded.gather(2, rows).gather(3, cols);
        }
        else
        {
            Tensor cols = Indices(new int[batch], (int)width, flip, images.device)
                .view(batch, 1, 1, width).expand(batch, channels, height, width);
            result = images.gather(3, cols);
        }

        return result.MoveToOuterDisposeScope();
    }

    private static void CheckBatch(Tensor images)
    {
        if (images.dim() != 4)
        {
            throw new ArgumentException($"Expected a batch [B, C, H, W]; got [{string.Join(", ", images.shape)}].", nameof(images));
        }
    }

    /// <summary>[B, length] int64 indices offsets[b] + k, with k counted backwards (length - 1 - k) where <paramref name="mirror"/>[b].</summary>
    private static Tensor Indices(ReadOnlySpan<int> offsets, int length, ReadOnlySpan<bool> mirror, Device device)
    {
        var indices = new long[offsets.Length * length];
        for (int b = 0, o = 0; b < offsets.Length; b++, o += length)
        {
            bool mirrored = !mirror.IsEmpty && mirror[b];
            for (int k = 0; k < length; k++)
            {
                indices[o + k] = offsets[b] + (mirrored ? length - 1 - k : k);
            }
        }

        return tensor(indices, [offsets.Length, length], ScalarType.Int64, device);
    }
}
