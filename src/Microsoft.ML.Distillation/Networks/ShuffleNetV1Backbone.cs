// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// ShuffleNet V1 (Zhang et al. 2018) in the CIFAR layout of the HSAKD / RepDistiller code: a 1x1 stem conv to 24 channels
/// + BN + ReLU (no pooling), three stages of <see cref="ShuffleNetV1Unit"/>s (each starting with a stride-2 concatenating
/// unit), global average pooling and a linear head. Taps: the outputs of layer1, layer2 and layer3 (post-ReLU).
/// </summary>
/// <remarks>
/// State-dict names follow the PyTorch reference: conv1, bn1, layer{1,2,3}.{i}.…, linear. The reference pools with a fixed
/// 4x4 window (global at 32 pixels); this backbone pools globally, which is the same there and works at any size.
/// PyTorch's default initialisation throughout, as in the reference.
/// </remarks>
internal sealed class ShuffleNetV1Backbone : TappedBackbone, IFoldableConvolutionNorms
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

    [ComponentName(Name = "linear")]
    private readonly Linear _linear;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="stageChannels">Output widths of the three stages.</param>
    /// <param name="stageUnits">Units per stage.</param>
    /// <param name="groups">g: groups of the 1x1 convs.</param>
    /// <param name="classCount">K.</param>
    public ShuffleNetV1Backbone(
        int inputChannels, IReadOnlyList<int> stageChannels, IReadOnlyList<int> stageUnits, int groups, int classCount)
        : base(nameof(ShuffleNetV1Backbone))
    {
        _conv1 = nn.Conv2d(inputChannels, ShuffleNetV1.StemChannels, kernel_size: 1, bias: false);
        _bn1 = nn.BatchNorm2d(ShuffleNetV1.StemChannels);
        _layer1 = ShuffleNetV1Unit.Stage(ShuffleNetV1.StemChannels, stageChannels[0], stageUnits[0], groups);
        _layer2 = ShuffleNetV1Unit.Stage(stageChannels[0], stageChannels[1], stageUnits[1], groups);
        _layer3 = ShuffleNetV1Unit.Stage(stageChannels[1], stageChannels[2], stageUnits[2], groups);
        _linear = nn.Linear(stageChannels[2], classCount);
        _tapChannels = [stageChannels[0], stageChannels[1], stageChannels[2]];
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize => _tapChannels[^1];

    /// <summary>The stem convolution (read by the ONNX writer).</summary>
    internal Conv2d StemConvolution => _conv1;

    /// <summary>The stem batch norm.</summary>
    internal BatchNorm2d StemNorm => _bn1;

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => [(_conv1, _bn1)];

    /// <summary>The three stages, each with its units in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<ShuffleNetV1Unit>> Stages
        => [.. new[] { _layer1, _layer2, _layer3 }.Select(stage => (IReadOnlyList<ShuffleNetV1Unit>)[.. stage.children().Cast<ShuffleNetV1Unit>()])];

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
        var embedding = nn.functional.adaptive_avg_pool2d(f3, 1).flatten(1);
        var logits = _linear.call(embedding);
        return new BackboneOutput(logits, embedding, [f1, f2, f3], f3).MoveToOuterDisposeScope();
    }
}
