// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Counts the floating-point operations of one forward pass: 2 per multiply-add of every convolution and linear layer that runs
/// (batch norms, activations, pooling and additions are not counted, as in the papers' FLOP tables). Measured with forward hooks on
/// one zero image, so it counts exactly the layers the network's forward runs.
/// </summary>
internal static class FlopCounter
{
    /// <summary>FLOPs of one forward pass of one image (auxiliary branches included unless asked otherwise).</summary>
    public static double ForwardFlops(ClassifierNetwork network, int channels, int size, bool includeAuxiliary = true)
        => ForwardFlops(network, channels, size, size, includeAuxiliary);

    /// <summary>FLOPs of one forward pass of one <paramref name="height"/> x <paramref name="width"/> image.</summary>
    public static double ForwardFlops(ClassifierNetwork network, int channels, int height, int width, bool includeAuxiliary = true)
    {
        double flops = 0;
        var removers = new List<Action>();
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        foreach (var (_, module) in network.named_modules())
        {
            // A module reachable by two paths (a field and a container) is hooked once.
            if (!seen.Add(module))
                continue;
            switch (module)
            {
                case Conv2d conv:
                    var convHook = conv.register_forward_hook((m, input, output) =>
                    {
                        flops += 2.0 * conv.weight!.numel() * output.shape[2] * output.shape[3];
                        return output;
                    });
                    removers.Add(convHook.remove);
                    break;
                case Linear linear:
                    var linearHook = linear.register_forward_hook((m, input, output) =>
                    {
                        flops += 2.0 * linear.weight!.numel();
                        return output;
                    });
                    removers.Add(linearHook.remove);
                    break;
            }
        }

        bool wasTraining = network.training, auxiliary = network.ComputeAuxiliary;
        var device = network.parameters().First().device;
        try
        {
            network.eval();
            network.ComputeAuxiliary = includeAuxiliary;
            using (no_grad())
            using (var scope = NewDisposeScope())
                network.forward(zeros(new long[] { 1, channels, height, width }, device: device));
        }
        finally
        {
            network.ComputeAuxiliary = auxiliary;
            network.train(wasTraining);
            foreach (var remove in removers)
                remove();
        }

        return flops;
    }
}
