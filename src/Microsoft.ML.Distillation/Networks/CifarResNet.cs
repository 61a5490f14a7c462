// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds CIFAR ResNets (basic blocks, depth 6n+2) with their three HSAKD auxiliary branches:
/// A1 = S(w2,n,2) -> S(w3,n,2), A2 = S(w3,n,2), A3 = S(w3,n,1), each followed by GAP and Linear(w3 -> K*M).
/// </summary>
internal static class CifarResNet
{
    /// <summary>Widths of resnet8..resnet110.</summary>
    public static readonly IReadOnlyList<int> StandardWidths = [16, 16, 32, 64];

    /// <summary>Widths of resnet8x4 and resnet32x4.</summary>
    public static readonly IReadOnlyList<int> WideWidths = [32, 64, 128, 256];

    /// <summary>Builds the network; <paramref name="depth"/> must be 6n+2.</summary>
    public static ClassifierNetwork Create(
        string architecture, int depth, IReadOnlyList<int> widths, int inputChannels, int classCount, int rotationCount)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "CIFAR ResNet depth must be 6n+2 with n >= 1.");
        }

        var n = (depth - 2) / 6;
        var backbone = new CifarResNetBackbone(inputChannels, widths, n, classCount);

        nn.Module<Tensor, Tensor>[] extractors =
        [
            nn.Sequential(
                ResNetBasicBlock.Stage(widths[1], widths[2], n, stride: 2),
                ResNetBasicBlock.Stage(widths[2], widths[3], n, stride: 2)),
            nn.Sequential(ResNetBasicBlock.Stage(widths[2], widths[3], n, stride: 2)),
            nn.Sequential(ResNetBasicBlock.Stage(widths[3], widths[3], n, stride: 1)),
        ];
        var auxiliary = new AuxiliaryClassifier(
            "ResNetAuxiliaryClassifier", extractors, norms: null, featureSize: widths[3], outputCount: classCount * rotationCount);

        // Reference aux init: conv N(0, sqrt(2/(k*k*C_out))), BN 1/0, Linear bias 0 (weight default).
        NetworkInitialization.KaimingNormalConvolutions(auxiliary);
        NetworkInitialization.ResetBatchNorms(auxiliary);
        NetworkInitialization.ZeroLinearBiases(auxiliary);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
