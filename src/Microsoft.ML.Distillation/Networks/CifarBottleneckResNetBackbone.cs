// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The CIFAR variant of the ImageNet bottleneck ResNet (ResNet-50 in HSAKD's <c>models/resnetv2.py</c>): a 3x3 stride-1
/// stem conv + BN + ReLU at full resolution and <b>no</b> max pooling, four stages of bottleneck blocks of widths
/// 64/128/256/512 (4x that many channels out) with strides 1, 2, 2, 2, global average pooling and a linear head.
/// Taps: the outputs of layer1..layer4 (post-ReLU), 256@32², 512@16², 1024@8², 2048@4² for a 32x32 input.
/// </summary>
/// <remarks>State-dict names follow the PyTorch reference: conv1, bn1, layer{1..4}.{i}.…, linear.</remarks>
internal sealed class CifarBottleneckResNetBackbone : TappedBackbone
{
    /// <summary>Bottleneck widths p of the four stages (each stage outputs 4p channels).</summary>
    public static readonly IReadOnlyList<int> Widths = [64, 128, 256, 512];

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

    [ComponentName(Name = "layer4")]
    private readonly Sequential _layer4;

    [ComponentName(Name = "linear")]
    private readonly Linear _linear;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="blocksPerStage">Blocks of the four stages, [3, 4, 6, 3] for ResNet-50.</param>
    /// <param name="classCount">K.</param>
    public CifarBottleneckResNetBackbone(int inputChannels, IReadOnlyList<int> blocksPerStage, int classCount)
        : base(nameof(CifarBottleneckResNetBackbone))
    {
        if (blocksPerStage.Count != 4 || blocksPerStage.Any(n => n < 1))
        {
            throw new ArgumentException("Give four stage depths, each at least 1.", nameof(blocksPerStage));
        }

        const int expansion = ResNetBottleneckBlock.Expansion;
        _conv1 = nn.Conv2d(inputChannels, Widths[0], kernel_size: 3, stride: 1, padding: 1, bias: false);
        _bn1 = nn.BatchNorm2d(Widths[0]);
        _layer1 = ResNetBottleneckBlock.Stage(Widths[0], Widths[0], blocksPerStage[0], stride: 1);
        _layer2 = ResNetBottleneckBlock.Stage(Widths[0] * expansion, Widths[1], blocksPerStage[1], stride: 2);
        _layer3 = ResNetBottleneckBlock.Stage(Widths[1] * expansion, Widths[2], blocksPerStage[2], stride: 2);
        _layer4 = ResNetBottleneckBlock.Stage(Widths[2] * expansion, Widths[3], blocksPerStage[3], stride: 2);
        _tapChannels = [.. Widths.Select(w => w * expansion)];
        _linear = nn.Linear(_tapChannels[^1], classCount);
        RegisterComponents();

        // Reference: kaiming_normal_(fan_out, relu) for convs, BN 1/0, Linear left at the PyTorch default.
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize => _tapChannels[^1];

    /// <summary>The stem convolution (read by the ONNX writer).</summary>
    internal Conv2d StemConvolution => _conv1;

    /// <summary>The stem batch norm.</summary>
    internal BatchNorm2d StemNorm => _bn1;

    /// <summary>The four stages (layer1..layer4), each with its blocks in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<ResNetBottleneckBlock>> Stages
        => [.. new[] { _layer1, _layer2, _layer3, _layer4 }.Select(stage => (IReadOnlyList<ResNetBottleneckBlock>)[.. stage.children().Cast<ResNetBottleneckBlock>()])];

    /// <summary>The main head.</summary>
    internal Linear Head => _linear;

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var stem = nn.functional.relu(_bn1.call(_conv1.call(input)));
        var f1 = _layer1.call(stem);
        var f2 = _layer2.call(f1);
        var f3 = _layer3.call(f2);
        var f4 = _layer4.call(f3);
        var embedding = nn.functional.adaptive_avg_pool2d(f4, 1).flatten(1);
        var logits = _linear.call(embedding);
        return new BackboneOutput(logits, embedding, [f1, f2, f3, f4]).MoveToOuterDisposeScope();
    }
}
