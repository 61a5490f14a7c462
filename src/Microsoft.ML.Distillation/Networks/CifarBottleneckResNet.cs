// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds the CIFAR bottleneck ResNets (<c>resnet50</c>: stages [3, 4, 6, 3]) with their four HSAKD auxiliary branches.
/// With n_i the stage depths and <c>S(c, n, s)</c> n bottleneck blocks of c output channels:
/// A1 = S(512, n2, 2) -> S(1024, n3, 2) -> S(2048, n4, 2); A2 = S(1024, n3, 2) -> S(2048, n4, 2); A3 = S(2048, n4, 2);
/// A4 = S(2048, n4, 1); each followed by GAP and Linear(2048 -> K*M).
/// </summary>
/// <remarks>
/// The backbone: a 3x3 stride-1 stem conv of 64 channels, four stages of bottleneck blocks (strides 1, 2, 2, 2), GAP and a
/// linear head named <c>linear</c>; taps after each stage, 256@32², 512@16², 1024@8², 2048@4² for a 32x32 input.
/// This is <b>not</b> the ImageNet ResNet-50: the stem is a 3x3 stride-1 convolution without max pooling, as in HSAKD's
/// CIFAR-100 teacher. Initialisation as in the reference: convolutions Kaiming normal (fan_out), BN 1/0, linear layers
/// (backbone head and auxiliary heads) at the PyTorch default.
/// </remarks>
internal static class CifarBottleneckResNet
{
    /// <summary>Bottleneck widths p of the four stages (each stage outputs 4p channels: 256, 512, 1024, 2048).</summary>
    public static readonly IReadOnlyList<int> Widths = [64, 128, 256, 512];

    /// <summary>Stage depths of ResNet-50.</summary>
    public static readonly IReadOnlyList<int> ResNet50Blocks = [3, 4, 6, 3];

    /// <summary>Builds the network.</summary>
    public static ClassifierNetwork Create(
        string architecture, IReadOnlyList<int> blocksPerStage, int inputChannels, int classCount, int rotationCount)
    {
        var backbone = new ResNetBackbone<ResNetBottleneckBlock>(
            "CifarBottleneckResNetBackbone", inputChannels, ResNetStem.Cifar(Widths[0]), Widths, blocksPerStage, headName: "linear", classCount);

        // Reference aux init (resnetv2.py): kaiming_normal_(fan_out, relu) for convs, BN 1/0; the linear heads keep the
        // PyTorch default (unlike the basic-block CIFAR ResNets, whose aux heads get bias 0).
        var auxiliary = ResNetBackbone<ResNetBottleneckBlock>.CreateAuxiliaryBranches(
            Widths, blocksPerStage, classCount * rotationCount, zeroHeadBiases: false);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
