// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Wide ResNet WRN-d-k (Zagoruyko and Komodakis 2016) for small images: 3x3 stem conv to 16 channels, three stages of
/// n = (d-4)/6 pre-activation blocks with widths 16k, 32k, 64k (strides 1, 2, 2), then BN + ReLU, global average pooling
/// and a linear head. Taps: the raw outputs (residual sums) of block1, block2 and block3.
/// </summary>
/// <remarks>State-dict names follow the PyTorch reference: conv1, block{1,2,3}.layer.{i}.…, bn1, fc.</remarks>
internal sealed class WideResNetBackbone : TappedBackbone
{
    [ComponentName(Name = "conv1")]
    private readonly Conv2d _conv1;

    [ComponentName(Name = "block1")]
    private readonly WideResNetStage _block1;

    [ComponentName(Name = "block2")]
    private readonly WideResNetStage _block2;

    [ComponentName(Name = "block3")]
    private readonly WideResNetStage _block3;

    [ComponentName(Name = "bn1")]
    private readonly BatchNorm2d _bn1;

    [ComponentName(Name = "fc")]
    private readonly Linear _fc;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="blocksPerStage">n = (d - 4) / 6.</param>
    /// <param name="widenFactor">k.</param>
    /// <param name="classCount">K.</param>
    public WideResNetBackbone(int inputChannels, int blocksPerStage, int widenFactor, int classCount)
        : base(nameof(WideResNetBackbone))
    {
        int[] widths = [16, 16 * widenFactor, 32 * widenFactor, 64 * widenFactor];
        _conv1 = nn.Conv2d(inputChannels, widths[0], kernel_size: 3, stride: 1, padding: 1, bias: false);
        _block1 = new WideResNetStage(blocksPerStage, widths[0], widths[1], stride: 1);
        _block2 = new WideResNetStage(blocksPerStage, widths[1], widths[2], stride: 2);
        _block3 = new WideResNetStage(blocksPerStage, widths[2], widths[3], stride: 2);
        _bn1 = nn.BatchNorm2d(widths[3]);
        _fc = nn.Linear(widths[3], classCount);
        _tapChannels = [widths[1], widths[2], widths[3]];
        RegisterComponents();

        // Reference: conv N(0, sqrt(2/(k*k*C_out))), BN 1/0, Linear bias 0 (weight default).
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
        NetworkInitialization.ZeroLinearBiases(this);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize => _tapChannels[^1];

    /// <summary>The stem convolution (read by the ONNX writer).</summary>
    internal Conv2d StemConvolution => _conv1;

    /// <summary>The three stages (block1..block3), each with its blocks in forward order.</summary>
    internal IReadOnlyList<IReadOnlyList<WideResNetBlock>> Stages
        => [.. new[] { _block1, _block2, _block3 }.Select(stage => (IReadOnlyList<WideResNetBlock>)[.. stage.Blocks])];

    /// <summary>The batch norm before the final ReLU and pooling.</summary>
    internal BatchNorm2d FinalNorm => _bn1;

    /// <summary>The main head.</summary>
    public override Linear Head => _fc;

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var f1 = _block1.call(_conv1.call(input));
        var f2 = _block2.call(f1);
        var f3 = _block3.call(f2);

        // The reference pools with avg_pool2d(8), i.e. global pooling at 32x32; adaptive pooling keeps any input size.
        var last = nn.functional.relu(_bn1.call(f3), inplace: true);
        var embedding = nn.functional.adaptive_avg_pool2d(last, 1).flatten(1);
        var logits = _fc.call(embedding);
        return new BackboneOutput(logits, embedding, [f1, f2, f3], last).MoveToOuterDisposeScope();
    }
}
