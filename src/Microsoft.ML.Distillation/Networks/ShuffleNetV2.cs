// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds ShuffleNet V2 1x (stage widths 116 / 232 / 464, final 1x1 conv to 1024, basic units 3 / 7 / 3, 1x1 stem to 24
/// channels) with its three HSAKD auxiliary branches: A1 = [Down(116 -> 232, s2) + 7 basic] + [Down(232 -> 464, s2) + 3 basic];
/// A2 = [Down(232 -> 464, s2) + 3 basic]; A3 = [Down(464 -> 464, s1) + 3 basic]. Each then has a 1x1 conv 464 -> 1024 + BN +
/// ReLU (children of the extractor, as in the reference), GAP and Linear(1024 -> K*M).
/// </summary>
/// <remarks>Initialisation as in the reference: PyTorch's defaults for the backbone and the auxiliary branches.</remarks>
internal static class ShuffleNetV2
{
    /// <summary>Width of the stem conv.</summary>
    public const int StemChannels = 24;

    /// <summary>Widths of the three stages and of the final 1x1 conv (the 1x configuration).</summary>
    public static readonly IReadOnlyList<int> Channels = [116, 232, 464, 1024];

    /// <summary>Basic units per stage (after its down-sampling unit).</summary>
    public static readonly IReadOnlyList<int> BasicUnits = [3, 7, 3];

    /// <summary>Builds the network.</summary>
    public static ClassifierNetwork Create(string architecture, int inputChannels, int classCount, int rotationCount)
    {
        var widths = Channels;
        var units = BasicUnits;
        var backbone = new ShuffleNetV2Backbone(inputChannels, widths, units, classCount);

        // FoldableSequential (a Sequential whose conv + BN pairs can be folded) because each branch ends in conv + BN + ReLU.
        nn.Module<Tensor, Tensor>[] extractors =
        [
            new FoldableSequential(
                ShuffleNetV2BasicUnit.Stage(widths[0], widths[1], units[1]),
                ShuffleNetV2BasicUnit.Stage(widths[1], widths[2], units[2]),
                nn.Conv2d(widths[2], widths[3], kernel_size: 1, bias: false),
                nn.BatchNorm2d(widths[3]),
                nn.ReLU(inplace: true)),
            new FoldableSequential(
                ShuffleNetV2BasicUnit.Stage(widths[1], widths[2], units[2]),
                nn.Conv2d(widths[2], widths[3], kernel_size: 1, bias: false),
                nn.BatchNorm2d(widths[3]),
                nn.ReLU(inplace: true)),
            new FoldableSequential(
                ShuffleNetV2BasicUnit.Stage(widths[2], widths[2], units[2], stride: 1),
                nn.Conv2d(widths[2], widths[3], kernel_size: 1, bias: false),
                nn.BatchNorm2d(widths[3]),
                nn.ReLU(inplace: true)),
        ];
        var auxiliary = new AuxiliaryClassifier(
            "ShuffleNetV2AuxiliaryClassifier", extractors, norms: null, featureSize: widths[3], outputCount: classCount * rotationCount);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }
}
