// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// <c>Linear(in, hidden) → ReLU → Linear(hidden, out)</c>, the small head several methods put on a pooled embedding (SSKD's projection
/// head, MGD's granularity encoders and decoders). PyTorch-default initialisation of both layers; state-dict names <c>0.weight</c>,
/// <c>0.bias</c>, <c>2.weight</c>, <c>2.bias</c> (the references' <c>nn.Sequential</c> layout).
/// </summary>
internal class TwoLayerPerceptron : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "0")]
    private readonly Linear _first;

    [ComponentName(Name = "2")]
    private readonly Linear _second;

    /// <param name="inputSize">Input features.</param>
    /// <param name="hiddenSize">Width of the hidden layer.</param>
    /// <param name="outputSize">Output features.</param>
    /// <param name="name">The module's name.</param>
    public TwoLayerPerceptron(int inputSize, int hiddenSize, int outputSize, string name = nameof(TwoLayerPerceptron))
        : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        InputSize = inputSize;
        OutputSize = outputSize;
        _first = nn.Linear(inputSize, hiddenSize);
        _second = nn.Linear(hiddenSize, outputSize);
        RegisterComponents();
    }

    /// <summary>Input features.</summary>
    public int InputSize { get; }

    /// <summary>Output features.</summary>
    public int OutputSize { get; }

    /// <summary>[R, in] → [R, out].</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return _second.call(nn.functional.relu(_first.call(input))).MoveToOuterDisposeScope();
    }
}
