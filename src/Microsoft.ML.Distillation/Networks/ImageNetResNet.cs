// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds the ImageNet (torchvision-layout) basic-block ResNets <c>resnet18</c> and <c>resnet34</c> with their four HSAKD
/// auxiliary branches. With L_i the stage depths and <c>S(c, n, s)</c> n basic blocks of width c:
/// A1 = S(128, L2, 2) -> S(256, L3, 2) -> S(512, L4, 2); A2 = S(256, L3, 2) -> S(512, L4, 2); A3 = S(512, L4, 2);
/// A4 = S(512, L4, 1); each followed by GAP and Linear(512 -> K*M).
/// </summary>
/// <remarks>
/// The backbone is torchvision's layout: 7x7 stride-2 stem conv (padding 3) + BN + ReLU, 3x3 stride-2 max pooling, four stages
/// of basic blocks (strides 1, 2, 2, 2), GAP and <c>fc</c>; taps after each stage, 64@56², 128@28², 256@14², 512@7² for a
/// 224x224 input (small inputs work too: 28x28 gives 7, 4, 2, 1). With 3 input channels and 1000 classes the backbone's
/// parameters are exactly torchvision's <c>resnet18</c> / <c>resnet34</c>.
/// These are <b>not</b> the CIFAR ResNets <c>resnet8</c>..<c>resnet110</c> (3x3 stem, three stages): the stem is a 7x7 stride-2
/// convolution with max pooling, so a 224x224 image reaches layer4 at 7x7. Initialisation as in HSAKD's
/// <c>models/resnet_imagenet.py</c>: convolutions Kaiming normal (fan_out), BN 1/0, linear layers at the PyTorch default.
/// </remarks>
internal static class ImageNetResNet
{
    /// <summary>Widths of the four stages' blocks (the stem is 64 wide too).</summary>
    public static readonly IReadOnlyList<int> Widths = [64, 128, 256, 512];

    /// <summary>Stage depths of ResNet-18.</summary>
    public static readonly IReadOnlyList<int> ResNet18Blocks = [2, 2, 2, 2];

    /// <summary>Stage depths of ResNet-34.</summary>
    public static readonly IReadOnlyList<int> ResNet34Blocks = [3, 4, 6, 3];

    /// <summary>Stage depths of ResNet-50 (bottleneck blocks).</summary>
    public static readonly IReadOnlyList<int> ResNet50Blocks = [3, 4, 6, 3];

    /// <summary>
    /// Builds torchvision's ImageNet <c>resnet50</c> (registered as <c>resnet50_imagenet</c>: the zoo's <c>resnet50</c> is HSAKD's
    /// CIFAR bottleneck network): the same stem, bottleneck blocks ("v1.5": stride on the 3x3 convolution), stages of 256, 512,
    /// 1024 and 2048 channels, <c>fc</c> from 2048; four HSAKD branches built from bottleneck stages as in
    /// <see cref="CifarBottleneckResNet"/>. With 3 input channels and 1000 classes the backbone's tensors are torchvision's, shape for
    /// shape, and named alike except the projection shortcuts: <c>shortcut</c> here, <c>downsample</c> in torchvision (the
    /// pretrained-weights loader reads one as the other).
    /// </summary>
    public static ClassifierNetwork CreateBottleneck(
        string architecture, IReadOnlyList<int> blocksPerStage, int inputChannels, int classCount, int rotationCount)
        => Create<ResNetBottleneckBlock>("ImageNetBottleneckResNetBackbone", architecture, blocksPerStage, inputChannels, classCount, rotationCount);

    /// <summary>Builds the basic-block network (<c>resnet18</c>, <c>resnet34</c>).</summary>
    public static ClassifierNetwork Create(
        string architecture, IReadOnlyList<int> blocksPerStage, int inputChannels, int classCount, int rotationCount)
        => Create<ResNetBasicBlock>("ImageNetResNetBackbone", architecture, blocksPerStage, inputChannels, classCount, rotationCount);

    private static ClassifierNetwork Create<TBlock>(
        string backboneName, string architecture, IReadOnlyList<int> blocksPerStage, int inputChannels, int classCount, int rotationCount)
        where TBlock : nn.Module<Tensor, Tensor>, IResNetBlock<TBlock>
    {
        var backbone = new ResNetBackbone<TBlock>(
            backboneName, inputChannels, ResNetStem.ImageNet, Widths, blocksPerStage, headName: "fc", classCount);

        // Reference aux init: kaiming_normal_(fan_out, relu) for convs, BN 1/0; the linear heads keep the PyTorch default.
        var auxiliary = ResNetBackbone<TBlock>.CreateAuxiliaryBranches(
            Widths, blocksPerStage, classCount * rotationCount, zeroHeadBiases: false);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
