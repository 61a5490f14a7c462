// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The shapes of a network's stage taps for an input shape, found by one forward pass of a zero image in eval mode without gradient
/// (no running statistics move, no random draw is made). Methods whose adapters depend on the maps of both networks (FitNet's
/// regressor) size them from this before training.
/// </summary>
internal static class TapShapes
{
    /// <summary>(channels, height, width) of each tap, shallow to deep.</summary>
    public static IReadOnlyList<(long Channels, long Height, long Width)> Of(ClassifierNetwork network, ImageShape input)
        => Probe(network, input, auxiliaryMaps: false, output => output.Features);

    /// <summary>
    /// (channels, height, width) of each auxiliary branch's final map (the input of its pooling; <see cref="NetworkOutput.AuxMaps"/>),
    /// shallow branch first.
    /// </summary>
    public static IReadOnlyList<(long Channels, long Height, long Width)> OfAuxiliaryMaps(ClassifierNetwork network, ImageShape input)
        => Probe(network, input, auxiliaryMaps: true, output => output.AuxMaps);

    /// <summary>(channels, height, width) of the map the main head pools (<see cref="NetworkOutput.PooledMap"/>).</summary>
    public static (long Channels, long Height, long Width) OfPooledMap(ClassifierNetwork network, ImageShape input)
        => Probe(network, input, auxiliaryMaps: false, output => [output.PooledMap!])[0];

    private static IReadOnlyList<(long Channels, long Height, long Width)> Probe(ClassifierNetwork network, ImageShape input, bool auxiliaryMaps,
        Func<NetworkOutput, IReadOnlyList<Tensor>> select)
    {
        bool wasTraining = network.training;
        bool computedAuxiliary = network.ComputeAuxiliary, keptMaps = network.KeepAuxiliaryMaps;
        var device = network.parameters().First().device;
        network.eval();
        network.ComputeAuxiliary = network.KeepAuxiliaryMaps = auxiliaryMaps;
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var output = network.call(zeros(new long[] { 1, input.Channels, input.Height, input.Width }, device: device));
            return select(output).Select(f => (f.shape[1], f.shape[2], f.shape[3])).ToArray();
        }
        finally
        {
            network.ComputeAuxiliary = computedAuxiliary;
            network.KeepAuxiliaryMaps = keptMaps;
            network.train(wasTraining);
        }
    }
}
