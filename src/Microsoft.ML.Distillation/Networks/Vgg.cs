// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Builds CIFAR VGG-BN networks (vgg8/11/13/16/19) with their four HSAKD auxiliary branches. With VB_i a copy of
/// block i followed by ReLU and MP a 2x2 max pool: A1 = MP,VB1,MP,VB2,MP,VB3,VB4; A2 = MP,VB2,MP,VB3,VB4;
/// A3 = MP,VB3,VB4; A4 = VB3 (input 512),VB4; each followed by GAP and Linear(512 -> K*M).
/// The auxiliary branches keep PyTorch's default initialisation (the reference defines an init but never calls it).
/// </summary>
internal static class Vgg
{
    /// <summary>Conv widths of the five blocks, by depth.</summary>
    public static IReadOnlyList<IReadOnlyList<int>> Config(int depth) => depth switch
    {
        8 => [[64], [128], [256], [512], [512]],
        11 => [[64], [128], [256, 256], [512, 512], [512, 512]],
        13 => [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
        16 => [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
        19 => [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
        _ => throw new ArgumentOutOfRangeException(nameof(depth), depth, "VGG depth must be 8, 11, 13, 16 or 19."),
    };

    /// <summary>
    /// One VGG block: for each width a 3x3 conv (with bias, padding 1) + BN, with an in-place ReLU between convs
    /// but not after the last BN. Children are numbered as in the reference (conv, bn, relu, conv, bn, ...).
    /// </summary>
    public static FoldableSequential Block(IReadOnlyList<int> widths, int inChannels)
    {
        var modules = new List<nn.Module<Tensor, Tensor>>();
        var channels = inChannels;
        foreach (var width in widths)
        {
            if (modules.Count > 0)
            {
                modules.Add(nn.ReLU(inplace: true));
            }

            modules.Add(nn.Conv2d(channels, width, kernel_size: 3, padding: 1, bias: true));
            modules.Add(nn.BatchNorm2d(width));
            channels = width;
        }

        return new FoldableSequential([.. modules]);
    }

    /// <summary>Builds the network for <paramref name="depth"/> in {8, 11, 13, 16, 19}.</summary>
    public static ClassifierNetwork Create(string architecture, int depth, int inputChannels, int classCount, int rotationCount)
    {
        var cfg = Config(depth);
        var backbone = new VggBackbone(inputChannels, cfg, classCount);

        // VB_i: a fresh copy of block i (input width of block i-1's output) followed by ReLU.
        nn.Module<Tensor, Tensor>[] extractors =
        [
            nn.Sequential(
                Pool(), Block(cfg[1], cfg[0][^1]), Relu(),
                Pool(), Block(cfg[2], cfg[1][^1]), Relu(),
                Pool(), Block(cfg[3], cfg[2][^1]), Relu(),
                Block(cfg[4], cfg[3][^1]), Relu()),
            nn.Sequential(
                Pool(), Block(cfg[2], cfg[1][^1]), Relu(),
                Pool(), Block(cfg[3], cfg[2][^1]), Relu(),
                Block(cfg[4], cfg[3][^1]), Relu()),
            nn.Sequential(
                Pool(), Block(cfg[3], cfg[2][^1]), Relu(),
                Block(cfg[4], cfg[3][^1]), Relu()),
            nn.Sequential(
                Block(cfg[3], cfg[4][^1]), Relu(),
                Block(cfg[4], cfg[3][^1]), Relu()),
        ];
        var auxiliary = new AuxiliaryClassifier(
            "VggAuxiliaryClassifier", extractors, norms: null, featureSize: cfg[4][^1], outputCount: classCount * rotationCount);

        return new BranchedClassifierNetwork(architecture, backbone, auxiliary, inputChannels, classCount, rotationCount);
    }

    private static MaxPool2d Pool() => nn.MaxPool2d(kernel_size: 2, stride: 2);

    private static ReLU Relu() => nn.ReLU(inplace: true);
}
