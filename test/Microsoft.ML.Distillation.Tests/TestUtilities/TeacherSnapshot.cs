// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>Everything a distiller must leave as it found on a teacher network: weights, BatchNorm statistics, requires_grad, mode.</summary>
internal sealed class TeacherSnapshot : IDisposable
{
    private readonly ClassifierNetwork _network;
    private readonly Dictionary<string, Tensor> _state;
    private readonly bool[] _requiresGrad;
    private readonly bool _training;

    public TeacherSnapshot(ClassifierNetwork network)
    {
        _network = network;
        _state = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        _requiresGrad = network.parameters().Select(p => p.requires_grad).ToArray();
        _training = network.training;
    }

    /// <summary>Fails naming the first tensor or flag that changed since the snapshot.</summary>
    public void AssertUnchanged()
    {
        foreach (var (name, tensor) in _network.state_dict())
            Assert.IsTrue(TensorAssert.Same(_state[name], tensor), $"teacher '{name}' changed (weights or BatchNorm statistics)");
        CollectionAssert.AreEqual(_requiresGrad, _network.parameters().Select(p => p.requires_grad).ToArray(), "requires_grad flags changed");
        Assert.AreEqual(_training, _network.training, "train/eval mode changed");
    }

    public void Dispose()
    {
        foreach (var t in _state.Values)
            t.Dispose();
    }
}
