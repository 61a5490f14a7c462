// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// bfloat16 mixed precision for the network being trained (<see cref="TrainingPrecision.BFloat16Mixed"/>). The network keeps its
/// float32 parameters: they are the master weights the optimiser updates and the checkpoints and the fitted model hold. A private
/// copy (<see cref="Compute"/>) with its convolution and linear weights in bfloat16 runs each step, as PyTorch's CPU autocast does:
/// the activations flow in bfloat16 from layer to layer, and the batch norms keep float32 weights and running statistics (libtorch
/// normalises a bfloat16 input with float32 statistics). Networks with grouped or depthwise convolutions train in float32 (see
/// <see cref="HasGroupedConvolutions"/>). Casting every layer's output back to float32 instead, so that the batch norms saw
/// float32 inputs, cost the whole gain (WRN-16-2 step 96 img/s against 99 in float32 and 171 with bfloat16 activations, measured
/// 2026-12-05). <see cref="Forward"/> refreshes the copy from the masters first and hands every output back in float32, so losses
/// and softmaxes are float32; after the backward pass <see cref="MoveGradientsToMasters"/> gives each master the float32 of its copy's gradient. The batch
/// norms' running statistics, which the copy's forward passes update, go back to the network with <see cref="CopyBuffersToMaster"/> before it is evaluated or saved.
/// </summary>
internal sealed class MixedPrecisionStudent : IDisposable
{
    private readonly ClassifierNetwork _master;
    private readonly (Parameter Master, Parameter Compute)[] _parameters;
    private readonly (Tensor Master, Tensor Compute)[] _buffers;

    private MixedPrecisionStudent(ClassifierNetwork master, ClassifierNetwork compute)
    {
        _master = master;
        Compute = compute;
        var computeParameters = compute.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        _parameters = [.. master.named_parameters().Select(p => (p.parameter, computeParameters[p.name]))];
        var computeBuffers = compute.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        _buffers = [.. master.named_buffers().Select(b => (b.buffer, computeBuffers[b.name]))];
    }

    /// <summary>The bfloat16 copy that runs the steps (for setting its training modes).</summary>
    public ClassifierNetwork Compute { get; }

    /// <summary>
    /// Makes the bfloat16 copy of <paramref name="student"/> on <paramref name="device"/>, in channels-last strides if asked; null, with
    /// <paramref name="notUsed"/> saying why, for a network with grouped or depthwise convolutions (see <see cref="HasGroupedConvolutions"/>).
    /// </summary>
    /// <exception cref="NotSupportedException">The network cannot be copied from its architecture name (an online peer group).</exception>
    public static MixedPrecisionStudent? Create(ClassifierNetwork student, Device device, bool channelsLast, string phase, out string? notUsed)
    {
        if (HasGroupedConvolutions(student))
        {
            notUsed = $"{phase}: Precision = BFloat16Mixed is not used for '{student.Architecture}', whose grouped or depthwise convolutions do not " +
                "train reliably in bfloat16 here (libtorch's strided ones give wrong input gradients, and on a fixed batch the network's " +
                "bfloat16 gradient pointed elsewhere than its float32 one: cosine 0.36-0.57, against 0.99 for ResNet, WRN and VGG); it trains in float32.";
            return null;
        }

        notUsed = null;
        ClassifierNetwork copy;
        try
        {
            copy = NetworkRegistry.CopyOf(student);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new NotSupportedException(
                $"{phase}: Precision = BFloat16Mixed needs a copy of the network, and a '{student.Architecture}' {student.GetType().Name} cannot be " +
                $"rebuilt from its architecture name ({e.Message}). Train it with Precision = Float32.", e);
        }

        try
        {
            copy.to(device);
            if (channelsLast)
                ChannelsLast.ApplyPermanently(copy);
            foreach (var (_, module) in copy.named_modules())
            {
                if (module is Conv2d or Linear)
                    module.to(ScalarType.BFloat16);
            }

            var requiresGrad = student.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
            foreach (var (name, parameter) in copy.named_parameters())
                parameter.requires_grad = requiresGrad[name];
            return new MixedPrecisionStudent(student, copy);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>The step's forward pass on the copy, its weights refreshed from the masters first; every output in float32.</summary>
    public NetworkOutput Forward(Tensor input)
    {
        using (no_grad())
        {
            foreach (var (master, compute) in _parameters)
                compute.copy_(master);
        }

        Compute.ComputeAuxiliary = _master.ComputeAuxiliary;
        Compute.KeepAuxiliaryMaps = _master.KeepAuxiliaryMaps;
        Compute.DetachAuxiliaryInputs = _master.DetachAuxiliaryInputs;
        var output = Compute.forward(input.to(ScalarType.BFloat16));
        return new NetworkOutput(Float(output.Logits), Float(output.Embedding), [.. output.Features.Select(Float)], [.. output.AuxLogits.Select(Float)],
            [.. output.AuxMaps.Select(Float)], output.PooledMap is null ? null : Float(output.PooledMap));
    }

    /// <summary>Sets each master's gradient to the float32 of its copy's (none where the copy has none) and clears the copy's.</summary>
    public void MoveGradientsToMasters()
    {
        using var scope = NewDisposeScope();
        foreach (var (master, compute) in _parameters)
        {
            var gradient = compute.grad;
            master.grad = gradient?.to(ScalarType.Float32, copy: true); // a copy even when float32: the copy's gradient is cleared below
        }

        Compute.zero_grad();
    }

    /// <summary>Copies the batch norms' running statistics (which the copy's forward passes update) back to the network.</summary>
    public void CopyBuffersToMaster()
    {
        using var noGrad = no_grad();
        foreach (var (master, compute) in _buffers)
            master.copy_(compute);
    }

    public void Dispose() => Compute.Dispose();

    /// <summary>
    /// Whether the network has a grouped or depthwise convolution (MobileNetV2, ShuffleNet V1 and V2). libtorch 2.10's CPU kernels give a
    /// strided one a wrong input gradient in bfloat16 (cosine to the float32 gradient 0.22-0.98 on random data for a single layer, 0.26
    /// for a 48-channel depthwise 3x3 of stride 2 on a 16x16 input; stride-1 grouped and strided dense convolutions agree to 1e-5), and
    /// with those kept in float32 the whole network's bfloat16 gradient on a fixed batch still pointed elsewhere than float32's (cosine
    /// 0.36-0.57; these networks' float32 gradients are themselves 1e5 times more sensitive to rounding than ResNets': cosine to float64
    /// 0.99993 against 1 - 1e-12). Measured 2026-12-05 on an AMD EPYC of family 26 (Zen 5), whose channels-last float32 kernels are also
    /// wrong (<see cref="ChannelsLast.KernelsAgree"/>); not checked on other CPUs.
    /// </summary>
    internal static bool HasGroupedConvolutions(nn.Module network)
        => network.modules().Any(m => m is Conv2d conv && conv.groups > 1);

    private static Tensor Float(Tensor t) => t.dtype == ScalarType.Float32 ? t : t.to(ScalarType.Float32);
}
