// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds WRN-d-k (d = 6n+4, k >= 1) with its three HSAKD auxiliary branches:
/// A1 = NB(n,16k->32k,s2) + NB(n,32k->64k,s2), A2 = NB(n,32k->64k,s2), A3 = NB(n,64k->64k,s1),
/// each followed by BN(64k) + ReLU, GAP and Linear(64k -> K*M).
/// </summary>
internal static class WideResNet
{
    /// <summary>Builds the network; <paramref name="depth"/> must be 6n+4 with n >= 1, <paramref name="widenFactor"/> >= 1.</summary>
    public static ClassifierNetwork Create(
        string architecture, int depth, int widenFactor, int inputChannels, int classCount, int rotationCount)
    {
        if (!IsValidDepth(depth))
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, 40, ...).");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(widenFactor, 1);

        var n = (depth - 4) / 6;
        var backbone = new WideResNetBackbone(inputChannels, n, widenFactor, classCount);

        var w1 = 16 * widenFactor;
        var w2 = 32 * widenFactor;
        var w3 = 64 * widenFactor;
        nn.Module<Tensor, Tensor>[] extractors =
        [
            nn.Sequential(new WideResNetStage(n, w1, w2, stride: 2), new WideResNetStage(n, w2, w3, stride: 2)),
            nn.Sequential(new WideResNetStage(n, w2, w3, stride: 2)),
            nn.Sequential(new WideResNetStage(n, w3, w3, stride: 1)),
        ];
        var norms = new[] { nn.BatchNorm2d(w3), nn.BatchNorm2d(w3), nn.BatchNorm2d(w3) };
        var auxiliary = new AuxiliaryClassifier(
            "WideResNetAuxiliaryClassifier", extractors, norms, featureSize: w3, outputCount: classCount * rotationCount);

        NetworkInitialization.KaimingNormalConvolutions(auxiliary);
        NetworkInitialization.ResetBatchNorms(auxiliary);
        NetworkInitialization.ZeroLinearBiases(auxiliary);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }

    /// <summary>True when <paramref name="depth"/> = 6n+4 with n >= 1.</summary>
    public static bool IsValidDepth(int depth) => depth >= 10 && (depth - 4) % 6 == 0;
}
