// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// A drop-in for <see cref="Sequential"/> (children named <c>0..n-1</c>, the same state-dict names) whose every Conv2d
/// directly followed by a BatchNorm2d is applied through <see cref="BatchNormFolding.ConvolutionThenNorm"/>, so that the pair
/// can be folded for inference. Intermediate outputs are released as soon as the next layer has read them.
/// </summary>
internal sealed class FoldableSequential : nn.Module<Tensor, Tensor>, IFoldableConvolutionNorms
{
    private readonly nn.Module<Tensor, Tensor>[] _layers;

    /// <param name="layers">The layers, in forward order; at least one.</param>
    public FoldableSequential(params nn.Module<Tensor, Tensor>[] layers)
        : base(nameof(FoldableSequential))
    {
        if (layers.Length == 0)
        {
            throw new ArgumentException("A sequence needs at least one layer.", nameof(layers));
        }

        _layers = [.. layers];
        for (var i = 0; i < _layers.Length; i++)
        {
            register_module(i.ToString(CultureInfo.InvariantCulture), _layers[i]);
        }
    }

    /// <summary>Number of layers.</summary>
    public int Count => _layers.Length;

    /// <summary>Layer <paramref name="index"/>, in forward order.</summary>
    public nn.Module<Tensor, Tensor> this[int index] => _layers[index];

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs
    {
        get
        {
            for (var i = 0; i + 1 < _layers.Length; i++)
            {
                if (_layers[i] is Conv2d convolution && _layers[i + 1] is BatchNorm2d norm)
                {
                    yield return (convolution, norm);
                }
            }
        }
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var x = input;
        for (var i = 0; i < _layers.Length; i++)
        {
            Tensor y;
            if (_layers[i] is Conv2d convolution && i + 1 < _layers.Length && _layers[i + 1] is BatchNorm2d norm)
            {
                y = BatchNormFolding.ConvolutionThenNorm(convolution, norm, x);
                i++;
            }
            else
            {
                y = _layers[i].call(x);
            }

            if (!ReferenceEquals(x, input) && !ReferenceEquals(x, y))
            {
                x.Dispose();
            }

            x = y;
        }

        return x;
    }
}
