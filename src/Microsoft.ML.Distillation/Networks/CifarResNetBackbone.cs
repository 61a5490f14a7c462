// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// CIFAR ResNet with basic blocks (He et al. 2016, section 4.2): 3x3 stem conv + BN + ReLU at full resolution,
/// three stages of n blocks (strides 1, 2, 2), global average pooling and a linear head.
/// Taps: the outputs of layer1, layer2 and layer3 (post-ReLU).
/// </summary>
/// <remarks>State-dict names follow the PyTorch reference: conv1, bn1, layer{1,2,3}.{i}.…, fc.</remarks>
internal sealed class CifarResNetBackbone : TappedBackbone, IFoldableConvolutionNorms
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

    [ComponentName(Name = "fc")]
    private readonly Linear _fc;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="widths">[w0, w1, w2, w3]: stem width and the widths of the three stages.</param>
    /// <param name="blocksPerStage">n = (depth - 2) / 6.</param>
    /// <param name="classCount">K.</param>
    public CifarResNetBackbone(int inputChannels, IReadOnlyList<int> widths, int blocksPerStage, int classCount)
        : base(nameof(CifarResNetBackbone))
    {
        _conv1 = nn.Conv2d(inputChannels, widths[0], kernel_size: 3, stride: 1, padding: 1, bias: false);
        _bn1 = nn.BatchNorm2d(widths[0]);
        _layer1 = ResNetBasicBlock.Stage(widths[0], widths[1], blocksPerStage, stride: 1);
        _layer2 = ResNetBasicBlock.Stage(widths[1], widths[2], blocksPerStage, stride: 2);
        _layer3 = ResNetBasicBlock.Stage(widths[2], widths[3], blocksPerStage, stride: 2);
        _fc = nn.Linear(widths[3], classCount);
        _tapChannels = [widths[1], widths[2], widths[3]];
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

    /// <summary>The three stages (layer1..layer3), each with its blocks in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<ResNetBasicBlock>> Stages
        => [.. new[] { _layer1, _layer2, _layer3 }.Select(stage => (IReadOnlyList<ResNetBasicBlock>)[.. stage.children().Cast<ResNetBasicBlock>()])];

    /// <summary>The main head.</summary>
    internal Linear Head => _fc;

    /// <inheritdoc/>
    public IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs => [(_conv1, _bn1)];

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var stem = nn.functional.relu(BatchNormFolding.ConvolutionThenNorm(_conv1, _bn1, input), inplace: true);
        var f1 = _layer1.call(stem);
        var f2 = _layer2.call(f1);
        var f3 = _layer3.call(f2);
        var embedding = nn.functional.adaptive_avg_pool2d(f3, 1).flatten(1);
        var logits = _fc.call(embedding);
        return new BackboneOutput(logits, embedding, [f1, f2, f3]).MoveToOuterDisposeScope();
    }
}
