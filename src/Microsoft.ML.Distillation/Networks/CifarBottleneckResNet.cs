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
/// This is <b>not</b> the ImageNet ResNet-50: the stem is a 3x3 stride-1 convolution without max pooling, as in HSAKD's
/// CIFAR-100 teacher. Initialisation as in the reference: convolutions Kaiming normal (fan_out), BN 1/0, linear layers
/// (backbone head and auxiliary heads) at the PyTorch default.
/// </remarks>
internal static class CifarBottleneckResNet
{
    /// <summary>Stage depths of ResNet-50.</summary>
    public static readonly IReadOnlyList<int> ResNet50Blocks = [3, 4, 6, 3];

    /// <summary>Builds the network.</summary>
    public static ClassifierNetwork Create(
        string architecture, IReadOnlyList<int> blocksPerStage, int inputChannels, int classCount, int rotationCount)
    {
        var backbone = new CifarBottleneckResNetBackbone(inputChannels, blocksPerStage, classCount);
        var p = CifarBottleneckResNetBackbone.Widths;
        var c = backbone.TapChannels;

        nn.Module<Tensor, Tensor>[] extractors =
        [
            nn.Sequential(
                ResNetBottleneckBlock.Stage(c[0], p[1], blocksPerStage[1], stride: 2),
                ResNetBottleneckBlock.Stage(c[1], p[2], blocksPerStage[2], stride: 2),
                ResNetBottleneckBlock.Stage(c[2], p[3], blocksPerStage[3], stride: 2)),
            nn.Sequential(
                ResNetBottleneckBlock.Stage(c[1], p[2], blocksPerStage[2], stride: 2),
                ResNetBottleneckBlock.Stage(c[2], p[3], blocksPerStage[3], stride: 2)),
            nn.Sequential(ResNetBottleneckBlock.Stage(c[2], p[3], blocksPerStage[3], stride: 2)),
            nn.Sequential(ResNetBottleneckBlock.Stage(c[3], p[3], blocksPerStage[3], stride: 1)),
        ];
        var auxiliary = new AuxiliaryClassifier(
            "ResNetAuxiliaryClassifier", extractors, norms: null, featureSize: c[3], outputCount: classCount * rotationCount);

        // Reference aux init (resnetv2.py): kaiming_normal_(fan_out, relu) for convs, BN 1/0; the linear heads keep the
        // PyTorch default (unlike the basic-block CIFAR ResNets, whose aux heads get bias 0).
        NetworkInitialization.KaimingNormalConvolutions(auxiliary);
        NetworkInitialization.ResetBatchNorms(auxiliary);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
