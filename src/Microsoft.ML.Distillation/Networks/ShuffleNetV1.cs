// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds ShuffleNet V1 (g = 3, stage widths 240 / 480 / 960, units 4 / 8 / 4, 1x1 stem to 24 channels) with its three
/// HSAKD auxiliary branches: A1 = stage(480, 8) + stage(960, 4); A2 = stage(960, 4); A3 = 4 additive stride-1 units
/// 960 -> 960 (no concatenating unit). Each is followed by GAP and Linear(960 -> K*M), with no extra BN.
/// </summary>
/// <remarks>
/// Initialisation as in the reference: the backbone keeps PyTorch's defaults; the auxiliary branches get conv
/// N(0, sqrt(2/(k*k*C_out))), BN 1/0 and Linear bias 0 (weight default).
/// </remarks>
internal static class ShuffleNetV1
{
    /// <summary>Width of the stem conv.</summary>
    public const int StemChannels = 24;

    /// <summary>g: groups of the 1x1 convs.</summary>
    public const int Groups = 3;

    /// <summary>Output widths of the three stages.</summary>
    public static readonly IReadOnlyList<int> StageChannels = [240, 480, 960];

    /// <summary>Units per stage.</summary>
    public static readonly IReadOnlyList<int> StageUnits = [4, 8, 4];

    /// <summary>Builds the network.</summary>
    public static ClassifierNetwork Create(string architecture, int inputChannels, int classCount, int rotationCount)
    {
        var widths = StageChannels;
        var units = StageUnits;
        var backbone = new ShuffleNetV1Backbone(inputChannels, widths, units, Groups, classCount);

        nn.Module<Tensor, Tensor>[] extractors =
        [
            nn.Sequential(
                ShuffleNetV1Unit.Stage(widths[0], widths[1], units[1], Groups),
                ShuffleNetV1Unit.Stage(widths[1], widths[2], units[2], Groups)),
            nn.Sequential(ShuffleNetV1Unit.Stage(widths[1], widths[2], units[2], Groups)),
            nn.Sequential(ShuffleNetV1Unit.Stage(widths[2], widths[2], units[2], Groups, downsample: false)),
        ];
        var auxiliary = new AuxiliaryClassifier(
            "ShuffleNetV1AuxiliaryClassifier", extractors, norms: null, featureSize: widths[2], outputCount: classCount * rotationCount);

        NetworkInitialization.KaimingNormalConvolutions(auxiliary);
        NetworkInitialization.ResetBatchNorms(auxiliary);
        NetworkInitialization.ZeroLinearBiases(auxiliary);

        // Channels-last made its training step about 15 % slower on the build machine (docs/benchmarks.md), so it keeps NCHW.
        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount)
        {
            PrefersChannelsLast = false,
        };
    }
}
