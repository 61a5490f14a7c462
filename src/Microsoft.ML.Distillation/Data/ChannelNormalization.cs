// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Per-channel mean and standard deviation, in the raw units of the stored pixels (0..255 for byte images; as given for float
/// vectors), and the <c>(x - mean) / std</c> that networks see.
/// </summary>
/// <remarks>
/// Computed from the training tensor (<see cref="Compute"/>: population statistics over all pixels of each channel, accumulated
/// in float64 over chunks of rows) or given by the user (<see cref="FromValues"/>). The mean and std tensors are made once per
/// device and kept until <see cref="Dispose"/>; <see cref="Normalize"/> is thread-safe.
/// </remarks>
internal sealed class ChannelNormalization : IDisposable
{
    /// <summary>The option names messages use when the estimator does not give its own.</summary>
    internal const string DefaultMeanOptionName = "NormalizationMean";

    /// <summary>See <see cref="DefaultMeanOptionName"/>.</summary>
    internal const string DefaultStdOptionName = "NormalizationStd";

    private const long ElementsPerChunk = 1 << 23;

    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly Dictionary<(DeviceType Type, int Index), (Tensor Mean, Tensor Std)> _perDevice = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    private ChannelNormalization(float[] mean, float[] std)
    {
        _mean = mean;
        _std = std;
    }

    /// <summary>Channels this normalisation is for.</summary>
    public int Channels => _mean.Length;

    /// <summary>Per-channel mean, raw pixel units.</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Per-channel standard deviation, raw pixel units, all positive.</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>
    /// Computes per-channel mean and population standard deviation over all pixels of <paramref name="images"/> [N, C, H, W]
    /// (any numeric dtype, CPU or other device). A channel with standard deviation 0 (constant) gets 1, so it is only shifted.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="images"/> is not 4-dimensional or has no rows.</exception>
    public static ChannelNormalization Compute(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dim() != 4 || images.shape[0] == 0)
        {
            throw new ArgumentException($"Expected images [N, C, H, W] with N > 0; got [{string.Join(", ", images.shape)}].", nameof(images));
        }

        long n = images.shape[0];
        int channels = (int)images.shape[1];
        double count = (double)n * images.shape[2] * images.shape[3];

        // Two passes (mean, then squared deviations) so that a constant channel gives exactly 0, and no cancellation otherwise.
        double[] sum = SumPerChannel(images, null);
        var mean = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            mean[c] = sum[c] / count;
        }

        double[] squaredDeviations = SumPerChannel(images, mean);
        var meanValues = new float[channels];
        var stdValues = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            float sd = (float)Math.Sqrt(squaredDeviations[c] / count);
            meanValues[c] = (float)mean[c];
            stdValues[c] = sd > 0 ? sd : 1f;
        }

        return new ChannelNormalization(meanValues, stdValues);
    }

    /// <summary>Per channel: the sum of x (no <paramref name="center"/>) or of (x - center)^2, in float64, over chunks of rows.</summary>
    private static double[] SumPerChannel(Tensor images, double[]? center)
    {
        long n = images.shape[0];
        int channels = (int)images.shape[1];
        long perRow = images.shape[1] * images.shape[2] * images.shape[3];
        long rowsPerChunk = Math.Max(1, ElementsPerChunk / perRow);
        var result = new double[channels];
        using var scope = NewDisposeScope();
        Tensor? centerTensor = center is null ? null : tensor(center, [1, channels, 1, 1], ScalarType.Float64, images.device);
        for (long start = 0; start < n; start += rowsPerChunk)
        {
            using var chunkScope = NewDisposeScope();
            Tensor chunk = images.narrow(0, start, Math.Min(rowsPerChunk, n - start)).to_type(ScalarType.Float64);
            Tensor values = centerTensor is null ? chunk : chunk.sub(centerTensor).square();
            double[] partial = values.sum([0, 2, 3]).cpu().data<double>().ToArray();
            for (int c = 0; c < channels; c++)
            {
                result[c] += partial[c];
            }
        }

        return result;
    }

    /// <summary>Uses mean and std given by the user (one value per channel, raw pixel units).</summary>
    /// <param name="mean">Per-channel means.</param>
    /// <param name="std">Per-channel standard deviations; each finite and positive.</param>
    /// <param name="channels">The images' channel count.</param>
    /// <param name="meanOptionName">The option that carried <paramref name="mean"/>, for messages and <see cref="ArgumentException.ParamName"/>.</param>
    /// <param name="stdOptionName">The option that carried <paramref name="std"/>.</param>
    /// <exception cref="ArgumentException">An array is missing, has another length than <paramref name="channels"/>, or holds an invalid value.</exception>
    public static ChannelNormalization FromValues(
        IReadOnlyList<float>? mean,
        IReadOnlyList<float>? std,
        int channels,
        string meanOptionName = DefaultMeanOptionName,
        string stdOptionName = DefaultStdOptionName)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        float[] m = Check(mean, channels, meanOptionName, stdOptionName, requirePositive: false);
        float[] s = Check(std, channels, stdOptionName, meanOptionName, requirePositive: true);
        return new ChannelNormalization(m, s);
    }

    /// <summary>
    /// Returns <c>(x - mean) / std</c> per channel as float32, on <paramref name="batch"/>'s device, in the caller's dispose scope.
    /// </summary>
    /// <param name="batch">Raw pixels [B, C, H, W] (uint8 or float), on any device.</param>
    /// <exception cref="ArgumentException">The batch is not 4-dimensional or has another channel count.</exception>
    public Tensor Normalize(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.dim() != 4 || batch.shape[1] != Channels)
        {
            throw new ArgumentException($"Expected a batch [B, {Channels}, H, W]; got [{string.Join(", ", batch.shape)}].", nameof(batch));
        }

        (Tensor mean, Tensor std) = ForDevice(batch.device);
        using var scope = NewDisposeScope();
        Tensor x = batch.dtype == ScalarType.Float32 ? batch : batch.to_type(ScalarType.Float32);
        return x.sub(mean).div_(std).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture, $"mean [{string.Join(", ", _mean)}], std [{string.Join(", ", _std)}]");

    /// <summary>Frees the cached mean and std tensors.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach ((Tensor mean, Tensor std) in _perDevice.Values)
            {
                mean.Dispose();
                std.Dispose();
            }

            _perDevice.Clear();
            _disposed = true;
        }
    }

    private (Tensor Mean, Tensor Std) ForDevice(Device device)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var key = (device.type, device.index);
            if (!_perDevice.TryGetValue(key, out var pair))
            {
                Tensor mean = tensor(_mean, [1, Channels, 1, 1], ScalarType.Float32, device).DetachFromDisposeScope();
                Tensor std = tensor(_std, [1, Channels, 1, 1], ScalarType.Float32, device).DetachFromDisposeScope();
                pair = (mean, std);
                _perDevice[key] = pair;
            }

            return pair;
        }
    }

    private static float[] Check(IReadOnlyList<float>? values, int channels, string optionName, string otherOptionName, bool requirePositive)
    {
        if (values is null)
        {
            throw new ArgumentException(
                $"{optionName} is not set; give {optionName} and {otherOptionName} together (one value per channel), or neither to compute them from the training images.",
                optionName);
        }

        if (values.Count != channels)
        {
            throw new ArgumentException(
                $"{optionName} has {values.Count} values, but the images have {channels} channels; give one value per channel.", optionName);
        }

        var result = values.ToArray();
        for (int c = 0; c < result.Length; c++)
        {
            if (!float.IsFinite(result[c]) || (requirePositive && result[c] <= 0))
            {
                throw new ArgumentException(
                    $"{optionName}[{c}] is {result[c].ToString(CultureInfo.InvariantCulture)}; expected a finite{(requirePositive ? ", positive" : string.Empty)} number.",
                    optionName);
            }
        }

        return result;
    }
}
