// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds CIFAR ResNets (He et al. 2016, section 4.2: basic blocks, depth 6n+2) with their three HSAKD auxiliary branches:
/// a 3x3 stem conv of width w0 at full resolution, three stages of n blocks of widths w1, w2, w3 (strides 1, 2, 2), GAP and
/// Linear(w3 -> K) named <c>fc</c>; taps after each stage.
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
        int[] stageWidths = [widths[1], widths[2], widths[3]];
        int[] blocks = [n, n, n];
        var backbone = new ResNetBackbone<ResNetBasicBlock>(
            "CifarResNetBackbone", inputChannels, ResNetStem.Cifar(widths[0]), stageWidths, blocks, headName: "fc", classCount);

        // Reference aux init: conv N(0, sqrt(2/(k*k*C_out))), BN 1/0, Linear bias 0 (weight default).
        var auxiliary = ResNetBackbone<ResNetBasicBlock>.CreateAuxiliaryBranches(
            stageWidths, blocks, classCount * rotationCount, zeroHeadBiases: true);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
