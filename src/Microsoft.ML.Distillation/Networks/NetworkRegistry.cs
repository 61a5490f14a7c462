// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The model zoo by name: CIFAR ResNets (basic blocks: <c>resnet8</c>..<c>resnet110</c>, <c>resnet8x4</c>, <c>resnet32x4</c>; and the
/// bottleneck CIFAR variant <c>resnet50</c>), ImageNet-layout ResNets (<c>resnet18</c>, <c>resnet34</c>: 7x7 stride-2 stem with max
/// pooling, torchvision's layout; <c>resnet50_imagenet</c>: torchvision's bottleneck ResNet-50), wide ResNets, VGG-BN, half-width MobileNetV2 (<c>mobilenetv2_half_s1</c>: HSAKD's stride-1
/// stem; <c>mobilenetv2_half</c>: the stride-2 stem of CRD / SSKD; <c>mobilenetv2_imagenet</c>: torchvision's full-width
/// <c>mobilenet_v2</c>), ShuffleNet V1 and ShuffleNet V2, each with its HSAKD
/// auxiliary branches.
/// Names are case-insensitive. Besides the registered names, any <c>wrn{d}_{k}</c> with d = 6n+4 (n >= 1) and k >= 1
/// is accepted (for example <c>wrn28_10</c>).
/// </summary>
internal static partial class NetworkRegistry
{
    /// <summary>A registered network: how to build it, and how many auxiliary branches (taps) it has.</summary>
    private sealed record Entry(Func<int, int, int, ClassifierNetwork> Create, int AuxiliaryBranches);

    private static readonly Dictionary<string, Entry> s_factories =
        new(StringComparer.Ordinal)
        {
            ["resnet8"] = new((c, k, m) => CifarResNet.Create("resnet8", 8, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet14"] = new((c, k, m) => CifarResNet.Create("resnet14", 14, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet20"] = new((c, k, m) => CifarResNet.Create("resnet20", 20, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet32"] = new((c, k, m) => CifarResNet.Create("resnet32", 32, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet44"] = new((c, k, m) => CifarResNet.Create("resnet44", 44, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet56"] = new((c, k, m) => CifarResNet.Create("resnet56", 56, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet110"] = new((c, k, m) => CifarResNet.Create("resnet110", 110, CifarResNet.StandardWidths, c, k, m), 3),
            ["resnet8x4"] = new((c, k, m) => CifarResNet.Create("resnet8x4", 8, CifarResNet.WideWidths, c, k, m), 3),
            ["resnet32x4"] = new((c, k, m) => CifarResNet.Create("resnet32x4", 32, CifarResNet.WideWidths, c, k, m), 3),
            ["resnet50"] = new((c, k, m) => CifarBottleneckResNet.Create("resnet50", CifarBottleneckResNet.ResNet50Blocks, c, k, m), 4),
            ["resnet18"] = new((c, k, m) => ImageNetResNet.Create("resnet18", ImageNetResNet.ResNet18Blocks, c, k, m), 4),
            ["resnet34"] = new((c, k, m) => ImageNetResNet.Create("resnet34", ImageNetResNet.ResNet34Blocks, c, k, m), 4),
            ["resnet50_imagenet"] = new((c, k, m) => ImageNetResNet.CreateBottleneck("resnet50_imagenet", ImageNetResNet.ResNet50Blocks, c, k, m), 4),
            ["wrn16_1"] = new((c, k, m) => WideResNet.Create("wrn16_1", 16, 1, c, k, m), 3),
            ["wrn16_2"] = new((c, k, m) => WideResNet.Create("wrn16_2", 16, 2, c, k, m), 3),
            ["wrn40_1"] = new((c, k, m) => WideResNet.Create("wrn40_1", 40, 1, c, k, m), 3),
            ["wrn40_2"] = new((c, k, m) => WideResNet.Create("wrn40_2", 40, 2, c, k, m), 3),
            ["vgg8"] = new((c, k, m) => Vgg.Create("vgg8", 8, c, k, m), 4),
            ["vgg11"] = new((c, k, m) => Vgg.Create("vgg11", 11, c, k, m), 4),
            ["vgg13"] = new((c, k, m) => Vgg.Create("vgg13", 13, c, k, m), 4),
            ["vgg16"] = new((c, k, m) => Vgg.Create("vgg16", 16, c, k, m), 4),
            ["vgg19"] = new((c, k, m) => Vgg.Create("vgg19", 19, c, k, m), 4),
            ["mobilenetv2_half"] = new((c, k, m) => MobileNetV2.Create("mobilenetv2_half", stemStride: 2, c, k, m), 4),
            ["mobilenetv2_half_s1"] = new((c, k, m) => MobileNetV2.Create("mobilenetv2_half_s1", stemStride: 1, c, k, m), 4),
            ["mobilenetv2_imagenet"] = new((c, k, m) => ImageNetMobileNetV2.Create("mobilenetv2_imagenet", c, k, m), 4),
            ["shufflenetv1"] = new((c, k, m) => ShuffleNetV1.Create("shufflenetv1", c, k, m), 3),
            ["shufflenetv2"] = new((c, k, m) => ShuffleNetV2.Create("shufflenetv2", c, k, m), 3),
        };

    private static readonly string[] s_names = [.. s_factories.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The registered architecture names, sorted (ordinal). <c>wrn{d}_{k}</c> names beyond these are also accepted.</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>
    /// Creates a network with freshly initialised weights on the default device.
    /// </summary>
    /// <param name="architecture">A name from <see cref="Names"/> or <c>wrn{d}_{k}</c> with d = 6n+4, k >= 1 (case-insensitive).</param>
    /// <param name="inputChannels">Image channels (1 for grey, 3 for RGB); at least 1.</param>
    /// <param name="classCount">K, the number of classes; at least 2.</param>
    /// <param name="rotationCount">M, the rotations of the joint label space; the auxiliary heads have K*M outputs. At least 1.</param>
    /// <exception cref="ArgumentException">The name is unknown or a malformed <c>wrn</c> name; the message lists the valid names.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    public static ClassifierNetwork Create(string architecture, int inputChannels, int classCount, int rotationCount = 4)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(rotationCount, 1);

        var entry = Resolve(architecture, out var error) ?? throw new ArgumentException(error, nameof(architecture));
        return entry.Create(inputChannels, classCount, rotationCount);
    }

    /// <summary>
    /// A new network of <paramref name="network"/>'s architecture holding its weights and buffers (on the default device). Building it
    /// initialises weights that are overwritten at once, so the global generator is put back where it was: a fixed-seed run draws the
    /// same numbers whether or not it makes copies.
    /// </summary>
    public static ClassifierNetwork CopyOf(ClassifierNetwork network)
    {
        using var rngState = torch.random.get_rng_state();
        var copy = Create(network.Architecture, network.InputChannels, network.ClassCount, network.RotationCount);
        torch.random.set_rng_state(rngState);
        try
        {
            using (torch.no_grad())
            using (var scope = torch.NewDisposeScope())
                copy.load_state_dict(network.state_dict());
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="paramName"/> and listing the valid names when <see cref="Create"/> would not accept the name.</summary>
    public static void Validate(string? architecture, string paramName)
    {
        if (string.IsNullOrWhiteSpace(architecture))
        {
            throw new ArgumentException($"{paramName} must name a network. " + ValidNamesSentence(), paramName);
        }

        if (Resolve(architecture, out var error) is null)
        {
            throw new ArgumentException(error, paramName);
        }
    }

    /// <summary>
    /// Number of auxiliary branches a network of this name has (for example VGG, MobileNetV2, resnet18/34/50: 4; CIFAR basic-block
    /// ResNet, WRN and ShuffleNet: 3), without building it.
    /// </summary>
    public static int AuxiliaryBranchCount(string architecture)
    {
        Validate(architecture, nameof(architecture));
        return Resolve(architecture, out _)!.AuxiliaryBranches;
    }

    /// <summary>Registered names whose networks have <paramref name="branchCount"/> auxiliary branches.</summary>
    public static IReadOnlyList<string> NamesWithAuxiliaryBranches(int branchCount)
        => s_names.Where(n => AuxiliaryBranchCount(n) == branchCount).ToArray();

    /// <summary>The canonical spelling of a name (trimmed, lower case), for comparisons.</summary>
    public static string Normalize(string architecture) => architecture.Trim().ToLowerInvariant();

    /// <summary>True when <see cref="Create"/> accepts <paramref name="architecture"/>.</summary>
    public static bool IsKnown(string? architecture) => architecture is not null && Resolve(architecture, out _) is not null;

    /// <summary>Number of elements in the module's parameters (all, or only those that require grad).</summary>
    public static long CountParameters(nn.Module module, bool trainableOnly = false)
    {
        ArgumentNullException.ThrowIfNull(module);
        long count = 0;
        foreach (var parameter in module.parameters())
        {
            if (!trainableOnly || parameter.requires_grad)
            {
                count += parameter.numel();
            }
        }

        return count;
    }

    private static Entry? Resolve(string architecture, out string error)
    {
        var name = architecture.Trim().ToLowerInvariant();
        if (s_factories.TryGetValue(name, out var entry))
        {
            error = string.Empty;
            return entry;
        }

        var match = WideResNetName().Match(name);
        if (match.Success)
        {
            if (!int.TryParse(match.Groups["depth"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var depth)
                || !WideResNet.IsValidDepth(depth))
            {
                error = $"'{architecture}': WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, 40, ...), got {match.Groups["depth"].Value}. "
                    + ValidNamesSentence();
                return null;
            }

            if (!int.TryParse(match.Groups["width"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var width) || width < 1)
            {
                error = $"'{architecture}': WRN widen factor k must be at least 1, got {match.Groups["width"].Value}. " + ValidNamesSentence();
                return null;
            }

            error = string.Empty;
            var canonical = string.Create(CultureInfo.InvariantCulture, $"wrn{depth}_{width}");
            return new((c, k, m) => WideResNet.Create(canonical, depth, width, c, k, m), 3);
        }

        error = $"Unknown architecture '{architecture}'. " + ValidNamesSentence();
        return null;
    }

    private static string ValidNamesSentence() =>
        $"Valid names: {string.Join(", ", s_names)}; or wrn{{d}}_{{k}} with d = 6n+4 (n >= 1) and k >= 1, e.g. wrn28_10.";

    [GeneratedRegex(@"^wrn(?<depth>\d+)_(?<width>\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex WideResNetName();
}
