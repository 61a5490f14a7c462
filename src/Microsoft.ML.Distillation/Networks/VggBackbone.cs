// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// CIFAR VGG with batch norm, in the layout of the RepDistiller / HSAKD code: five conv blocks (3x3 conv with bias
/// + BN, ReLU between convs; a ReLU after each block is applied here in forward), 2x2 max pooling after blocks 0, 1
/// and 2 (none after block 3), global average pooling and Linear(512, K).
/// Taps: ReLU(block0), ReLU(block1), ReLU(block2) and ReLU(block4); block 3's output is not tapped.
/// </summary>
/// <remarks>
/// State-dict names follow the PyTorch reference: block{0..4}.{i}.… (ReLUs keep their sequence index), classifier.
/// The reference pools once more after block 3 only for 64-pixel inputs; this backbone never does, so an odd
/// spatial size is floored by the three pools (28 -> 14 -> 7 -> 3) and inputs need at least 8x8 pixels.
/// </remarks>
internal sealed class VggBackbone : TappedBackbone
{
    [ComponentName(Name = "block0")]
    private readonly FoldableSequential _block0;

    [ComponentName(Name = "block1")]
    private readonly FoldableSequential _block1;

    [ComponentName(Name = "block2")]
    private readonly FoldableSequential _block2;

    [ComponentName(Name = "block3")]
    private readonly FoldableSequential _block3;

    [ComponentName(Name = "block4")]
    private readonly FoldableSequential _block4;

    [ComponentName(Name = "pool0")]
    private readonly MaxPool2d _pool0;

    [ComponentName(Name = "pool1")]
    private readonly MaxPool2d _pool1;

    [ComponentName(Name = "pool2")]
    private readonly MaxPool2d _pool2;

    [ComponentName(Name = "classifier")]
    private readonly Linear _classifier;

    private readonly int[] _tapChannels;

    /// <param name="inputChannels">Image channels.</param>
    /// <param name="config">Conv widths of the five blocks.</param>
    /// <param name="classCount">K.</param>
    public VggBackbone(int inputChannels, IReadOnlyList<IReadOnlyList<int>> config, int classCount)
        : base(nameof(VggBackbone))
    {
        _block0 = Vgg.Block(config[0], inputChannels);
        _block1 = Vgg.Block(config[1], config[0][^1]);
        _block2 = Vgg.Block(config[2], config[1][^1]);
        _block3 = Vgg.Block(config[3], config[2][^1]);
        _block4 = Vgg.Block(config[4], config[3][^1]);
        _pool0 = nn.MaxPool2d(kernel_size: 2, stride: 2);
        _pool1 = nn.MaxPool2d(kernel_size: 2, stride: 2);
        _pool2 = nn.MaxPool2d(kernel_size: 2, stride: 2);
        _classifier = nn.Linear(config[4][^1], classCount);
        _tapChannels = [config[0][^1], config[1][^1], config[2][^1], config[4][^1]];
        RegisterComponents();

        // Reference: conv N(0, sqrt(2/(k*k*C_out))) with bias 0, BN 1/0, Linear N(0, 0.01) with bias 0.
        NetworkInitialization.KaimingNormalConvolutions(this);
        NetworkInitialization.ResetBatchNorms(this);
        NetworkInitialization.NormalLinears(this, std: 0.01);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<int> TapChannels => _tapChannels;

    /// <inheritdoc/>
    public override int EmbeddingSize => _tapChannels[^1];

    /// <summary>The five conv blocks (read by the ONNX writer).</summary>
    internal IReadOnlyList<FoldableSequential> Blocks => [_block0, _block1, _block2, _block3, _block4];

    /// <summary>The max pools after blocks 0, 1 and 2.</summary>
    internal IReadOnlyList<MaxPool2d> Pools => [_pool0, _pool1, _pool2];

    /// <summary>The main head.</summary>
    public override Linear Head => _classifier;

    /// <inheritdoc/>
    public override BackboneOutput ForwardWithTaps(Tensor input)
    {
        using var scope = NewDisposeScope();
        var f0 = Relu(_block0.call(input));
        var f1 = Relu(_block1.call(_pool0.call(f0)));
        var f2 = Relu(_block2.call(_pool1.call(f1)));
        var x3 = Relu(_block3.call(_pool2.call(f2)));
        var f3 = Relu(_block4.call(x3));
        var embedding = nn.functional.adaptive_avg_pool2d(f3, 1).flatten(1);
        var logits = _classifier.call(embedding);
        return new BackboneOutput(logits, embedding, [f0, f1, f2, f3], f3).MoveToOuterDisposeScope();
    }

    /// <summary>The ReLU after a block, in place: the block's output is a fresh tensor nothing else reads.</summary>
    private static Tensor Relu(Tensor blockOutput) => nn.functional.relu(blockOutput, inplace: true);
}
