// Licensed under the MIT license. See LICENSE in the repository root.

using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// The pixel loops: one image or pixel vector into planar C*H*W values. Generic over the destination element so that the
/// training reader (bytes) and the scoring side (floats) run the very same code.
/// </summary>
internal static class PixelDecoding
{
    /// <summary>
    /// Copies the pixels of a 32-bit image (4 bytes per pixel, Bgra32 or Rgba32) into planar RGB: R plane, G plane, B plane.
    /// Alpha is dropped; colour values are taken as the image holds them (as ExtractPixels does).
    /// </summary>
    /// <param name="pixels">Rows of 4-byte pixels, top row first; each row may be padded (<paramref name="rowBytes"/>).</param>
    /// <param name="rowBytes">Bytes from the start of one row to the start of the next (at least 4 * <paramref name="width"/>).</param>
    /// <param name="height">Rows of the image.</param>
    /// <param name="width">Columns of the image.</param>
    /// <param name="bgra">True for Bgra32 (byte order B, G, R, A), false for Rgba32.</param>
    /// <param name="destination">3 * height * width values.</param>
    public static void PackedToPlanarRgb<T>(ReadOnlySpan<byte> pixels, int rowBytes, int height, int width, bool bgra, Span<T> destination)
        where T : unmanaged, INumberBase<T>
    {
        int plane = height * width;
        if (destination.Length != 3 * plane)
        {
            throw new ArgumentException($"Expected room for {3 * plane} values, got {destination.Length}.", nameof(destination));
        }

        if (rowBytes < 4 * width || pixels.Length < (long)rowBytes * (height - 1) + 4L * width)
        {
            throw new ArgumentException($"{pixels.Length} bytes do not hold {height} rows of {width} 4-byte pixels ({rowBytes} bytes a row).", nameof(pixels));
        }

        int redOffset = bgra ? 2 : 0;
        int blueOffset = bgra ? 0 : 2;
        Span<T> red = destination[..plane];
        Span<T> green = destination.Slice(plane, plane);
        Span<T> blue = destination.Slice(2 * plane, plane);
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = pixels.Slice(y * rowBytes, 4 * width);
            int o = y * width;
            for (int x = 0, p = 0; x < width; x++, p += 4)
            {
                red[o + x] = T.CreateTruncating(row[p + redOffset]);
                green[o + x] = T.CreateTruncating(row[p + 1]);
                blue[o + x] = T.CreateTruncating(row[p + blueOffset]);
            }
        }
    }

    /// <summary>Copies a vector (dense or sparse) into <paramref name="destination"/>, converting each value; absent sparse slots become 0.</summary>
    public static void VectorToSpan<TSource, TDestination>(in VBuffer<TSource> source, Span<TDestination> destination)
        where TSource : unmanaged, INumberBase<TSource>
        where TDestination : unmanaged, INumberBase<TDestination>
    {
        if (source.Length != destination.Length)
        {
            throw new ArgumentException($"Expected a vector of {destination.Length} values, got {source.Length}.", nameof(source));
        }

        ReadOnlySpan<TSource> values = source.GetValues();
        if (source.IsDense)
        {
            if (typeof(TSource) == typeof(TDestination))
            {
                MemoryMarshal.Cast<TSource, TDestination>(values).CopyTo(destination);
                return;
            }

            for (int i = 0; i < values.Length; i++)
            {
                destination[i] = TDestination.CreateTruncating(values[i]);
            }

            return;
        }

        ReadOnlySpan<int> indices = source.GetIndices();
        destination.Clear();
        for (int k = 0; k < values.Length; k++)
        {
            destination[indices[k]] = TDestination.CreateTruncating(values[k]);
        }
    }
}
