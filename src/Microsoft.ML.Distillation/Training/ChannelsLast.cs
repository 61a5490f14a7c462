// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// The channels-last (NHWC) memory layout for convolutions on the CPU: the values and shapes stay NCHW, only the strides change,
/// so that libtorch's oneDNN convolutions run without reordering their input and weights on every call (measured on the build
/// machine: the WRN-40-2 teacher forward about 1.4x faster; see docs/benchmarks.md).
/// </summary>
/// <remarks>
/// TorchSharp 0.107 has no memory-format argument, so the layout is made by strides: permute to NHWC, make contiguous, permute
/// back; libtorch recognises those strides as channels-last and keeps them through convolutions, batch norms, activations and
/// pooling. Parameters are changed in place (<c>set_</c>), so optimisers and references to them stay valid.
/// </remarks>
internal static class ChannelsLast
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, string?> s_kernelDisagreement = new();

    /// <summary>
    /// Whether libtorch's channels-last convolutions compute what its NCHW ones do on this CPU at the current thread count;
    /// <paramref name="reason"/> names the first wrong shape otherwise. Checked once per process and thread count on small random
    /// convolutions, since the faults depend on the threads: on an AMD EPYC of family 26 (Zen 5) libtorch 2.10's NHWC float32 1x1
    /// kernel was off by 56 % of the largest output with 2 threads and exact with 1 (2026-12-05; with oneDNN held to AVX2 both were
    /// exact), and on the family-25 build machines of earlier days the channels-last losses moved 80 times more than NCHW's between 1
    /// and 2 threads (docs/benchmarks.md).
    /// </summary>
    public static bool KernelsAgree(out string reason)
    {
        string? found = s_kernelDisagreement.GetOrAdd(torch.get_num_threads(), _ => FindKernelDisagreement());
        reason = found ?? "";
        return found is null;
    }

    /// <summary>
    /// The shapes that exposed the bad kernels, each computed in both layouts and in float64; null when both layouts are within 1e-4
    /// of the float64 result's largest magnitude, else which layout is off and by how much, with the thread count.
    /// </summary>
    internal static string? FindKernelDisagreement()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(17, CPU);
        foreach (var (inChannels, outChannels, kernel) in new (long, long, long)[] { (12, 72, 1), (24, 72, 3), (64, 64, 3) })
        {
            var x = randn(new long[] { 4, inChannels, 8, 8 }, generator: generator);
            var w = randn(new long[] { outChannels, inChannels, kernel, kernel }, generator: generator);
            long[] padding = [kernel / 2, kernel / 2];
            var exact = nn.functional.conv2d(x.to(ScalarType.Float64), w.to(ScalarType.Float64), padding: padding);
            double Error(Tensor actual) => ((actual.to(ScalarType.Float64) - exact).abs().max() / exact.abs().max()).item<double>();
            double nchw = Error(nn.functional.conv2d(x, w, padding: padding));
            double nhwc = Error(nn.functional.conv2d(Of(x), Of(w), padding: padding));
            if (!(nchw <= 1e-4 && nhwc <= 1e-4))
            {
                string wrong = nhwc <= 1e-4 ? "its NCHW convolution" : nchw <= 1e-4 ? "its channels-last convolution" : "both its layouts' convolutions";
                return string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"libtorch computes {wrong} wrongly on this CPU with {torch.get_num_threads()} threads ({inChannels} to {outChannels} channels, {kernel}x{kernel}: " +
                    $"channels-last off by {nhwc:E1}, NCHW by {nchw:E1} of the largest output of a float64 reference)");
            }
        }

        return null;
    }

    /// <summary>A 4-D tensor with the same values in channels-last strides (other ranks are returned as they are).</summary>
    public static Tensor Of(Tensor tensor) => tensor.dim() == 4 ? tensor.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : tensor;

    /// <summary>
    /// Puts every 4-D parameter of <paramref name="network"/> (the convolution weights) in channels-last strides, and returns an
    /// object whose disposal puts them back in the standard contiguous layout, so that saving, export and scoring see NCHW.
    /// </summary>
    public static IDisposable Apply(nn.Module network)
    {
        var weights = FourDimensional(network);
        Relayout(weights, toChannelsLast: true);
        return new RelayoutOnDispose(weights, toChannelsLast: false);
    }

    /// <summary>Channels-last strides for every 4-D parameter, in place (for private copies that are never restored).</summary>
    public static void ApplyPermanently(nn.Module network) => Relayout(FourDimensional(network), toChannelsLast: true);

    /// <summary>
    /// Puts the 4-D parameters of <paramref name="network"/> that have channels-last strides back in the standard layout until the
    /// returned object is disposed, which puts those (and only those) in channels-last again: for writers that need contiguous
    /// tensors (a checkpoint in the middle of training).
    /// </summary>
    public static IDisposable Standard(nn.Module network)
    {
        var channelsLast = FourDimensional(network).Where(p => !p.is_contiguous() && HasChannelsLastStrides(p)).ToList();
        Relayout(channelsLast, toChannelsLast: false);
        return new RelayoutOnDispose(channelsLast, toChannelsLast: true);
    }

    /// <summary>Whether a 4-D tensor [N, C, H, W] has the strides <see cref="Of"/> gives: [C·H·W, 1, W·C, C].</summary>
    private static bool HasChannelsLastStrides(Tensor tensor)
    {
        long channels = tensor.shape[1], height = tensor.shape[2], width = tensor.shape[3];
        long[] expected = [channels * height * width, 1, width * channels, channels];
        return tensor.stride().SequenceEqual(expected);
    }

    /// <summary>
    /// Gives every SGD momentum buffer of <paramref name="optimizer"/> the standard layout, in place of a channels-last one (the
    /// buffer starts as a clone of its parameter's gradient and keeps its strides). The values do not change, and element-wise
    /// updates give the same numbers in either layout, so a run whose buffers were re-laid out here trains on bit for bit as it would
    /// have: a checkpoint can then be written, and a run resumed from it (buffers read back in the standard layout) matches.
    /// </summary>
    public static void StandardMomentumBuffers(torch.optim.Optimizer optimizer)
    {
        using var noGrad = no_grad();
        foreach (var state in ((TorchSharp.Modules.OptimizerHelper)optimizer).state_dict().State)
        {
            if (state is TorchSharp.Modules.SGD.State { momentum_buffer: { } buffer } sgd && !buffer.is_contiguous())
            {
                sgd.momentum_buffer = buffer.contiguous().DetachFromDisposeScope();
                buffer.Dispose();
            }
        }
    }

    /// <summary>The 4-D parameters (the convolution weights) of <paramref name="network"/>.</summary>
    private static List<Tensor> FourDimensional(nn.Module network) => [.. network.parameters().Where(p => p.dim() == 4)];

    /// <summary>Gives each parameter channels-last strides or the standard layout, in place (same tensor, same values).</summary>
    private static void Relayout(IEnumerable<Tensor> parameters, bool toChannelsLast)
    {
        using var noGrad = no_grad();
        foreach (var parameter in parameters)
        {
            using var scope = NewDisposeScope();
            var laidOut = toChannelsLast ? Of(parameter) : parameter.contiguous();
            parameter.set_(laidOut);
        }
    }

    /// <summary>Re-lays out the given parameters once, when disposed.</summary>
    private sealed class RelayoutOnDispose(List<Tensor> parameters, bool toChannelsLast) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done)
                return;
            _done = true;
            Relayout(parameters, toChannelsLast);
        }
    }
}
