// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds torchvision's ImageNet MobileNetV2 (registered as <c>mobilenetv2_imagenet</c>; torchvision's <c>mobilenet_v2</c>, width
/// 1.0) with four HSAKD auxiliary branches. Groups (t, c, n, s): (1,16,1,1), (6,24,2,2), (6,32,3,2), (6,64,4,2), (6,96,3,1),
/// (6,160,3,2), (6,320,1,1); stem 3x3 stride-2 conv to 32 channels; head 1x1 conv 320 -> 1280 + BN + ReLU6, GAP, dropout 0.2,
/// Linear(1280, K). With 3 input channels and 1000 classes the backbone's tensors are torchvision's, name for name and shape for
/// shape (3,504,872 parameters), so torchvision's pretrained state dict loads as it is.
/// </summary>
/// <remarks>
/// <para>
/// This is not the zoo's <c>mobilenetv2_half</c> / <c>mobilenetv2_half_s1</c> (the distillation papers' half-width CIFAR network
/// with ReLU and an expansion conv in every block): the activation is ReLU6, the first block has no expansion conv, the stem has
/// stride 2 and the network is full width. The whole stride is 32, so a 224x224 image reaches the last group at 7x7 (a 32x32 one
/// at 1x1).
/// </para>
/// <para>
/// Auxiliary branches as in <see cref="MobileNetV2"/>, built from this network's blocks: A1 (from 24 channels) = groups 2..6;
/// A2 (from 32) = groups 3..6; A3 (from 96) = groups 5..6; A4 (from 320) = group 5 with stride 1, then group 6; each then a
/// 1x1 conv to 1280 + BN + ReLU6, GAP and Linear(1280, K*M). Branch <c>l</c> holds its groups as children <c>0..G-1</c> and
/// the final unit as child G. Branches are initialised as the backbone.
/// </para>
/// <para>
/// The dropout before the head acts whenever the backbone is in training mode; when only the head and branches train
/// (<see cref="TeacherTrainingMode.FrozenBackbone"/>) the backbone stays in eval mode and the dropout with it, where torchvision's
/// usual fine-tuning would keep it.
/// </para>
/// </remarks>
internal static class ImageNetMobileNetV2
{
    /// <summary>Width of the stem conv.</summary>
    public const int StemChannels = 32;

    /// <summary>Width of the final 1x1 conv.</summary>
    public const int LastChannels = 1280;

    /// <summary>Dropout before torchvision's head.</summary>
    public const double Dropout = 0.2;

    /// <summary>torchvision's seven inverted residual groups (t, c, n, s) at width 1.0.</summary>
    public static readonly IReadOnlyList<(int Expansion, int Channels, int Blocks, int Stride)> Groups =
    [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];

    /// <summary>Groups whose outputs are the HSAKD taps.</summary>
    public static readonly IReadOnlyList<int> TapGroups = [1, 2, 4, 6];

    /// <summary>Builds the network.</summary>
    public static ClassifierNetwork Create(string architecture, int inputChannels, int classCount, int rotationCount)
    {
        var groups = Groups;
        var backbone = new ImageNetMobileNetV2Backbone(inputChannels, groups, TapGroups, StemChannels, LastChannels, Dropout, classCount);
        var auxiliary = MobileNetV2.CreateAuxiliaryBranches(
            "ImageNetMobileNetV2AuxiliaryClassifier", groups, LastChannels, classCount * rotationCount,
            (channels, g) => nn.Sequential(ImageNetInvertedResidualBlock.Group(channels, g.Expansion, g.Channels, g.Blocks, g.Stride).ToArray<nn.Module<Tensor, Tensor>>()),
            channels => ImageNetInvertedResidualBlock.ConvolutionUnit(channels, LastChannels, kernelSize: 1, stride: 1));
        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
