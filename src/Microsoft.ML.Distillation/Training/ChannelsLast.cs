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
    /// <summary>A 4-D tensor with the same values in channels-last strides (other ranks are returned as they are).</summary>
    public static Tensor Of(Tensor tensor) => tensor.dim() == 4 ? tensor.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : tensor;

    /// <summary>
    /// Puts every 4-D parameter of <paramref name="network"/> (the convolution weights) in channels-last strides, and returns an
    /// object whose disposal puts them back in the standard contiguous layout, so that saving, export and scoring see NCHW.
    /// </summary>
    public static IDisposable Apply(nn.Module network)
    {
        Relayout(network, toChannelsLast: true);
        return new Restorer(network);
    }

    /// <summary>Channels-last strides for every 4-D parameter, in place (for private copies that are never restored).</summary>
    public static void ApplyPermanently(nn.Module network) => Relayout(network, toChannelsLast: true);

    private static void Relayout(nn.Module network, bool toChannelsLast)
    {
        using var noGrad = no_grad();
        foreach (var parameter in network.parameters())
        {
            if (parameter.dim() != 4)
                continue;
            using var scope = NewDisposeScope();
            var laidOut = toChannelsLast ? Of(parameter) : parameter.contiguous();
            parameter.set_(laidOut);
        }
    }

    private sealed class Restorer(nn.Module network) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done)
                return;
            _done = true;
            Relayout(network, toChannelsLast: false);
        }
    }
}
