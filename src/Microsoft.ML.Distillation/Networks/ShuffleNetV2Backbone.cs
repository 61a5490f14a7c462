// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// ShuffleNet V2 (Ma et al. 2018) in the CIFAR layout of the HSAKD / RepDistiller code: a 1x1 stem conv to 24 channels + BN
/// + ReLU (no pooling), three stages (a stride-2 <see cref="ShuffleNetV2DownUnit"/> and n <see cref="ShuffleNetV2BasicUnit"/>s
/// each), a 1x1 conv + BN + ReLU, global average pooling and a linear head. Taps: the outputs of layer1, layer2 and layer3.
/// </summary>
/// <remarks>
/// State-dict names follow the PyTorch reference: conv1, bn1, layer{1,2,3}.{i}.…, conv2, bn2, linear. The reference pools
/// with a fixed 4x4 window (global at 32 pixels); this backbone pools globally, which is the same there and works at any size.
/// PyTorch's default initialisation throughout, as in the reference.
/// </remarks>
internal sealed class ShuffleNetV2Backbone : TappedBackbone, IFoldableConvolutionNorms
{
    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn1")]
    private readonly BatchNorm2d _bn1;

    [ComponentName(Name = "layer1")]
    private readonly Sequential _layer1;

    [ComponentName(Name = "layer2")]
    private readonly Sequential _layer2;

    [ComponentName(Name = "layer3")]
    private readonly Sequential _layer3;

    [ComponentName(Name = "conv2")]
    private readonly Conv2d _conv2;

    [ComponentName(Name = "bn2")]
    private readonly BatchNorm2d _bn2;

    [ComponentName(Name = "linear")]
    private readonly Linear _linear;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="channels">Widths of the three stages and of the final 1x1 conv.</param>
    /// <param name="basicUnits">Basic units per stage (after its down-sampling unit).</param>
    /// <param name="classCount">K.</param>
    public ShuffleNetV2Backbone(int inputChannels, IReadOnlyList<int> channels, IReadOnlyList<int> basicUnits, int classCount)
        : base(nameof(ShuffleNetV2Backbone))
    {
        _conv1 = nn.Conv2d(inputChannels, ShuffleNetV2.StemChannels, kernel_size: 1, bias: false);
        _bn1 = nn.BatchNorm2d(ShuffleNetV2.StemChannels);
        _layer1 = ShuffleNetV2BasicUnit.Stage(ShuffleNetV2.StemChannels, channels[0], basicUnits[0]);
        _layer2 = ShuffleNetV2BasicUnit.Stage(channels[0], channels[1], basicUnits[1]);
        _layer3 = ShuffleNetV2BasicUnit.Stage(channels[1], channels[2], basicUnits[2]);
        _conv2 = nn.Conv2d(channels[2], channels[3], kernel_size: 1, bias: false);
        _bn2 = nn.BatchNorm2d(channels[3]);
        _linear = nn.Linear(channels[3], classCount);
        _tapChannels = [channels[0], channels[1], channels[2]];
        EmbeddingSize = channels[3];
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize { get; }

    /// <summary>The stem convolution (read by the ONNX writer).</summary>
    internal Conv2d StemConvolution => _conv1;

    /// <summary>The stem batch norm.</summary>
    internal BatchNorm2d StemNorm => _bn1;

    /// <summary>The three stages, each a down-sampling unit followed by basic units, in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<nn.Module<Tensor, Tensor>>> Stages
        => [.. new[] { _layer1, _layer2, _layer3 }.Select(stage => (IReadOnlyList<nn.Module<Tensor, Tensor>>)[.. stage.children().Cast<nn.Module<Tensor, Tensor>>()])];

    /// <summary>The final 1x1 conv and its batch norm.</summary>
    internal (Conv2d Convolution, BatchNorm2d Norm) Last => (_conv2, _bn2);

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => [(_conv1, _bn1), Last];

    /// <summary>The main head.</summary>
    public override Linear Head => _linear;

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var stem = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input));
        var f1 = _layer1.call(stem);
        var f2 = _layer2.call(f1);
        var f3 = _layer3.call(f2);
        var last = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv2, _bn2, f3));
        var embedding = nn.functional.adaptive_avg_pool2d(last, 1).flatten(1);
        var logits = _linear.call(embedding);
        return new BackboneOutput(logits, embedding, [f1, f2, f3], last).MoveToOuterDisposeScope();
    }
}
