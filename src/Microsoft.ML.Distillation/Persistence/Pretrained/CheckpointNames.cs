// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Persistence.Pretrained;

/// <summary>
/// Maps tensor names of PyTorch checkpoints to the zoo's state-dict names. The zoo's backbones use the module names of the
/// reference code (torchvision's <c>conv1</c>, <c>bn1</c>, <c>layer1.0.conv1</c>, <c>fc</c>, <c>features.1.conv.0.0</c>, <c>classifier.1</c>; RepDistiller's and HSAKD's
/// <c>block1.layer.0.convShortcut</c>, <c>block0.0</c>, <c>classifier</c>; HSAKD's <c>block_extractor1</c>, <c>bn1</c>,
/// <c>fc1</c> for the auxiliary branches), under <c>backbone.</c> and <c>auxiliary.</c>. So one rule covers the layouts:
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>module.</c> prefixes (<c>nn.DataParallel</c>, <c>DistributedDataParallel</c>) are removed.</item>
/// <item>HSAKD's <c>auxiliary_classifier.</c> becomes <c>auxiliary.</c>; names already under <c>backbone.</c> or
/// <c>auxiliary.</c> (HSAKD's <c>*_aux</c> networks, this library's own state dicts) stay.</item>
/// <item>Every other name is a plain network's (torchvision, RepDistiller, HSAKD's backbone files) and goes under
/// <c>backbone.</c>.</item>
/// <item>A bottleneck block's projection is <c>downsample</c> in torchvision and <c>shortcut</c> in the zoo (HSAKD's resnetv2
/// naming, which <c>resnet50</c> and <c>resnet50_imagenet</c> share): <see cref="Resolve"/> takes whichever the network has.</item>
/// </list>
/// </remarks>
internal static class CheckpointNames
{
    private const string DataParallelPrefix = "module.";
    private const string HsakdAuxiliaryPrefix = "auxiliary_classifier.";

    /// <summary>Prefix of the zoo's backbone (main head included).</summary>
    public const string Backbone = "backbone.";

    /// <summary>Prefix of the zoo's HSAKD auxiliary branches.</summary>
    public const string Auxiliary = "auxiliary.";

    /// <summary>
    /// The zoo name of a checkpoint tensor name in a network whose state dict has <paramref name="zooNames"/>: <see cref="ToZooName"/>,
    /// with torchvision's <c>downsample</c> read as the zoo's <c>shortcut</c> where only that exists.
    /// </summary>
    public static string Resolve(string checkpointName, IReadOnlyDictionary<string, TorchSharp.torch.Tensor> zooNames)
    {
        ArgumentNullException.ThrowIfNull(zooNames);
        string name = ToZooName(checkpointName);
        if (!zooNames.ContainsKey(name) && name.Contains(".downsample.", StringComparison.Ordinal))
        {
            string alias = name.Replace(".downsample.", ".shortcut.", StringComparison.Ordinal);
            if (zooNames.ContainsKey(alias))
                return alias;
        }
        return name;
    }

    /// <summary>The zoo name of a checkpoint tensor name.</summary>
    public static string ToZooName(string checkpointName)
    {
        ArgumentNullException.ThrowIfNull(checkpointName);
        string name = checkpointName;
        while (name.StartsWith(DataParallelPrefix, StringComparison.Ordinal))
            name = name[DataParallelPrefix.Length..];
        if (name.StartsWith(HsakdAuxiliaryPrefix, StringComparison.Ordinal))
            return Auxiliary + name[HsakdAuxiliaryPrefix.Length..];
        if (name.StartsWith(Backbone, StringComparison.Ordinal) || name.StartsWith(Auxiliary, StringComparison.Ordinal))
            return name;
        return Backbone + name;
    }
}
