// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// ImageNet ResNet with basic blocks in the torchvision layout (ResNet-18/34): a 7x7 stride-2 stem conv (padding 3) + BN + ReLU,
/// 3x3 stride-2 max pooling (padding 1), four stages of basic blocks of widths 64/128/256/512 with strides 1, 2, 2, 2,
/// global average pooling and Linear(512, K).
/// Taps: the outputs of layer1..layer4 (post-ReLU), 64@56², 128@28², 256@14², 512@7² for a 224x224 input. Small inputs work
/// too; the spatial size then shrinks to 1x1 in the deep stages (28x28: 7, 4, 2, 1).
/// </summary>
/// <remarks>
/// Not the CIFAR ResNets of the same registry (<c>resnet8</c>..<c>resnet110</c>). State-dict names follow torchvision: conv1,
/// bn1, layer{1..4}.{i}.conv1/bn1/conv2/bn2/downsample.{0,1}, fc; with 3 input channels and 1000 classes the parameters are
/// exactly torchvision's <c>resnet18</c> / <c>resnet34</c>.
/// </remarks>
internal sealed class ImageNetResNetBackbone : TappedBackbone
{
    /// <summary>Widths of the stem and of the four stages' blocks.</summary>
    public static readonly IReadOnlyList<int> Widths = [64, 128, 256, 512];

    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "bn1")]
    private readonly BatchNorm2d _bn1;

    [ComponentName(Name = "maxpool")]
    private readonly MaxPool2d _maxpool;

    [ComponentName(Name = "layer1")]
    private readonly Sequential _layer1;

    [ComponentName(Name = "layer2")]
    private readonly Sequential _layer2;

    [ComponentName(Name = "layer3")]
    private readonly Sequential _layer3;

    [ComponentName(Name = "layer4")]
    private readonly Sequential _layer4;

    [ComponentName(Name = "fc")]
    private readonly Linear _fc;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="blocksPerStage">Blocks of the four stages: [2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for ResNet-34.</param>
    /// <param name="classCount">K.</param>
    public ImageNetResNetBackbone(int inputChannels, IReadOnlyList<int> blocksPerStage, int classCount)
        : base(nameof(ImageNetResNetBackbone))
    {
        if (blocksPerStage.Count != 4 || blocksPerStage.Any(n => n < 1))
        {
            throw new ArgumentException("Give four stage depths, each at least 1.", nameof(blocksPerStage));
        }

        _conv1 = nn.Conv2d(inputChannels, Widths[0], kernel_size: 7, stride: 2, padding: 3, bias: false);
        _bn1 = nn.BatchNorm2d(Widths[0]);
        _maxpool = nn.MaxPool2d(kernel_size: 3, stride: 2, padding: 1);
        _layer1 = ResNetBasicBlock.Stage(Widths[0], Widths[0], blocksPerStage[0], stride: 1);
        _layer2 = ResNetBasicBlock.Stage(Widths[0], Widths[1], blocksPerStage[1], stride: 2);
        _layer3 = ResNetBasicBlock.Stage(Widths[1], Widths[2], blocksPerStage[2], stride: 2);
        _layer4 = ResNetBasicBlock.Stage(Widths[2], Widths[3], blocksPerStage[3], stride: 2);
        _fc = nn.Linear(Widths[3], classCount);
        RegisterComponents();

        // torchvision: kaiming_normal_(fan_out, relu) for convs, BN 1/0, Linear left at the PyTorch default.
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => Widths;

    /// <inheritdoc/>
    public override int EmbeddingSize => Widths[^1];

    /// <summary>The stem convolution (read by the ONNX writer).</summary>
    internal Conv2d StemConvolution => _conv1;

    /// <summary>The stem batch norm.</summary>
    internal BatchNorm2d StemNorm => _bn1;

    /// <summary>The stem max pooling.</summary>
    internal MaxPool2d StemPool => _maxpool;

    /// <summary>The four stages (layer1..layer4), each with its blocks in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<ResNetBasicBlock>> Stages
        => [.. new[] { _layer1, _layer2, _layer3, _layer4 }.Select(stage => (IReadOnlyList<ResNetBasicBlock>)[.. stage.children().Cast<ResNetBasicBlock>()])];

    /// <summary>The main head.</summary>
    internal Linear Head => _fc;

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var stem = _maxpool.call(nn.functional.relu(_bn1.call(_conv1.call(input))));
        var f1 = _layer1.call(stem);
        var f2 = _layer2.call(f1);
        var f3 = _layer3.call(f2);
        var f4 = _layer4.call(f3);
        var embedding = nn.functional.adaptive_avg_pool2d(f4, 1).flatten(1);
        var logits = _fc.call(embedding);
        return new BackboneOutput(logits, embedding, [f1, f2, f3, f4]).MoveToOuterDisposeScope();
    }
}
