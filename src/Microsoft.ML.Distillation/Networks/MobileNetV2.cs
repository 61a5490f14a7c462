// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds the half-width MobileNetV2 of the distillation literature (T = 6, width 0.5) with its four HSAKD auxiliary
/// branches. Groups (t, c, n, s): (1,8,1,1), (6,12,2,1), (6,16,3,2), (6,32,4,2), (6,48,3,1), (6,80,3,2), (6,160,1,1); stem
/// 3x3 conv to 16 channels; head 1x1 conv 160 -> 1280 + BN + ReLU, GAP, Linear(1280, K).
/// </summary>
/// <remarks>
/// <para>
/// Two registered variants differ only in the stem stride:
/// <list type="bullet">
/// <item><c>mobilenetv2_half_s1</c>: stride 1, HSAKD's MobileNetV2. At 32 pixels the taps are 12@32, 16@16, 48@8 and 160@4.
/// This is the network behind HSAKD's MobileNetV2 numbers (student baseline about 73.5 % on CIFAR-100).</item>
/// <item><c>mobilenetv2_half</c>: stride 2, the "mobile_half" of CRD / RepDistiller and SSKD. Every feature map is half as large
/// (taps 12@16, 16@8, 48@4, 160@2 at 32 pixels), so it is about four times cheaper and clearly weaker (student baseline about
/// 65.8 % in those papers). Numbers from the two papers are not comparable across the variants.</item>
/// </list>
/// </para>
/// <para>
/// Auxiliary branches (each replicates the groups after its tap, then 1x1 conv 160 -> 1280 + BN + ReLU, GAP and
/// Linear(1280, K*M)): A1 (from 12 channels) = groups 2..6; A2 (from 16) = groups 3..6; A3 (from 48) = groups 5..6;
/// A4 (from 160) = group 5 with stride 1, then group 6. The extractor of branch l holds the groups as children
/// <c>0..G-1</c> (named as the reference's <c>block_extractor{l}</c>) and the reference's <c>conv2_{l}</c> as child G.
/// Backbone and branches use the reference initialisation: conv N(0, sqrt(2/(k*k*C_out))), BN 1/0, Linear N(0, 0.01) with bias 0.
/// </para>
/// </remarks>
internal static class MobileNetV2
{
    /// <summary>Width of the stem conv.</summary>
    public const int StemChannels = 16;

    /// <summary>Width of the final 1x1 conv (1280: the width multiplier 0.5 does not shrink it).</summary>
    public const int LastChannels = 1280;

    /// <summary>The seven inverted residual groups (t, c, n, s) of the half-width network (c already halved).</summary>
    public static readonly IReadOnlyList<(int Expansion, int Channels, int Blocks, int Stride)> HalfWidthGroups =
    [
        (1, 8, 1, 1),
        (6, 12, 2, 1),
        (6, 16, 3, 2),
        (6, 32, 4, 2),
        (6, 48, 3, 1),
        (6, 80, 3, 2),
        (6, 160, 1, 1),
    ];

    /// <summary>Builds the network; <paramref name="stemStride"/> is 1 (HSAKD) or 2 (CRD / SSKD "mobile_half").</summary>
    public static ClassifierNetwork Create(
        string architecture, int stemStride, int inputChannels, int classCount, int rotationCount)
    {
        if (stemStride is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(stemStride), stemStride, "The MobileNetV2 stem stride is 1 or 2.");
        }

        var groups = HalfWidthGroups;
        var backbone = new MobileNetV2Backbone(inputChannels, stemStride, StemChannels, groups, LastChannels, classCount);
        var auxiliary = CreateAuxiliaryBranches(
            "MobileNetV2AuxiliaryClassifier", groups, LastChannels, classCount * rotationCount,
            (channels, g) => InvertedResidualBlock.Group(channels, g.Expansion, g.Channels, g.Blocks, g.Stride),
            channels => ConvolutionUnit(channels, LastChannels, kernelSize: 1, stride: 1));
        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }

    /// <summary>
    /// The four HSAKD branches of a seven-group MobileNetV2 whose taps follow groups 1, 2, 4 and 6: A1 = groups 2..6, A2 = 3..6,
    /// A3 = 5..6, A4 = group 5 with stride 1 (the last tap's resolution), then group 6; each extractor holds its groups as children
    /// <c>0..G-1</c> and <paramref name="lastUnit"/> (to <paramref name="lastChannels"/>) as child G. Initialised as the reference
    /// initialises the backbone: conv N(0, sqrt(2/(k*k*C_out))), BN 1/0, Linear N(0, 0.01) with bias 0.
    /// </summary>
    /// <param name="name">Module name.</param>
    /// <param name="groups">The network's groups (t, c, n, s).</param>
    /// <param name="lastChannels">Width every extractor ends with.</param>
    /// <param name="outputCount">Outputs of every branch: K*M.</param>
    /// <param name="group">Builds one group from its input width (the network's own block type).</param>
    /// <param name="lastUnit">Builds the final 1x1 unit from its input width.</param>
    internal static AuxiliaryClassifier CreateAuxiliaryBranches(
        string name,
        IReadOnlyList<(int Expansion, int Channels, int Blocks, int Stride)> groups,
        int lastChannels,
        int outputCount,
        Func<int, (int Expansion, int Channels, int Blocks, int Stride), nn.Module<Tensor, Tensor>> group,
        Func<int, nn.Module<Tensor, Tensor>> lastUnit)
    {
        nn.Module<Tensor, Tensor> Extractor(int inChannels, params (int Expansion, int Channels, int Blocks, int Stride)[] replicated)
        {
            var modules = new List<nn.Module<Tensor, Tensor>>(replicated.Length + 1);
            var channels = inChannels;
            foreach (var g in replicated)
            {
                modules.Add(group(channels, g));
                channels = g.Channels;
            }

            modules.Add(lastUnit(channels));
            return nn.Sequential(modules);
        }

        nn.Module<Tensor, Tensor>[] extractors =
        [
            Extractor(groups[1].Channels, groups[2], groups[3], groups[4], groups[5], groups[6]),
            Extractor(groups[2].Channels, groups[3], groups[4], groups[5], groups[6]),
            Extractor(groups[4].Channels, groups[5], groups[6]),
            Extractor(groups[6].Channels, groups[5] with { Stride = 1 }, groups[6]),
        ];
        var auxiliary = new AuxiliaryClassifier(name, extractors, norms: null, featureSize: lastChannels, outputCount: outputCount);
        NetworkInitialization.KaimingNormalConvolutions(auxiliary);
        NetworkInitialization.ResetBatchNorms(auxiliary);
        NetworkInitialization.NormalLinears(auxiliary, std: 0.01);
        return auxiliary;
    }

    /// <summary>Conv (no bias, padding k/2) + BN + ReLU as a sequence named 0, 1, 2 (the reference's conv_bn / conv_1x1_bn).</summary>
    internal static FoldableSequential ConvolutionUnit(int inChannels, int outChannels, int kernelSize, int stride)
        => new FoldableSequential(
            nn.Conv2d(inChannels, outChannels, kernel_size: kernelSize, stride: stride, padding: kernelSize / 2, bias: false),
            nn.BatchNorm2d(outChannels),
            nn.ReLU(inplace: true));

}
