// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Persistence.Pretrained;

/// <summary>What <see cref="PretrainedWeights.Load(ClassifierNetwork, string)"/> did to a network.</summary>
/// <param name="LoadedTensorNames">Zoo names of the tensors copied from the file.</param>
/// <param name="HeadReplaced">The file's main head had another class count, so the network keeps its freshly initialised head.</param>
/// <param name="AuxiliaryLoaded">The file carried the HSAKD auxiliary branches and they were loaded; false: they start fresh.</param>
/// <param name="SourceClassCount">The class count of the file's main head; 0 when the file has none.</param>
internal sealed record PretrainedLoadResult(
    IReadOnlySet<string> LoadedTensorNames, bool HeadReplaced, bool AuxiliaryLoaded, int SourceClassCount)
{
    /// <summary>One line for the training log.</summary>
    public string Describe(string path, ClassifierNetwork network)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"{network.Architecture}: {LoadedTensorNames.Count} tensors loaded from '{path}'"));
        text.Append(HeadReplaced
            ? SourceClassCount == 0
                ? "; no main head in the file: the head starts fresh"
                : $"; main head replaced ({SourceClassCount} classes in the file, {network.ClassCount} here) and trained from scratch"
            : "; main head kept");
        text.Append(AuxiliaryLoaded ? "; auxiliary branches loaded." : "; auxiliary branches start fresh.");
        return text.ToString();
    }
}

/// <summary>
/// Loads PyTorch weights (torchvision, HSAKD, RepDistiller and this library's layouts; <see cref="CheckpointNames"/>) into a zoo
/// network, checking every name and shape first, so a file that does not fit changes nothing and the error lists what is missing,
/// unexpected and mis-shaped.
/// </summary>
/// <remarks>
/// Allowed without complaint: the auxiliary branches absent from the file (plain networks: they start fresh), BatchNorm
/// <c>num_batches_tracked</c> counters absent (older files), and a main head of another class count (fine-tuning: the head is
/// re-initialised, every other backbone tensor is loaded, and the auxiliary branches start fresh since their K·M outputs depend on
/// the class count too). Everything else must match exactly.
/// </remarks>
internal static class PretrainedWeights
{
    private const string BatchCounterSuffix = ".num_batches_tracked";
    private const int ListedPerKind = 12;

    /// <summary>Reads <paramref name="path"/> and copies its tensors into <paramref name="network"/>.</summary>
    /// <exception cref="InvalidDataException">The file does not fit the network; the message names every mismatch.</exception>
    public static PretrainedLoadResult Load(ClassifierNetwork network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        var source = PyTorchStateDictReader.Read(path);
        try
        {
            return Load(network, source, path);
        }
        finally
        {
            foreach (var tensor in source.Values)
                tensor.Dispose();
        }
    }

    /// <summary>Copies the tensors of a state dict (checkpoint names) into <paramref name="network"/>; the caller keeps ownership of the tensors.</summary>
    public static PretrainedLoadResult Load(ClassifierNetwork network, IReadOnlyDictionary<string, Tensor> checkpoint, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(checkpoint);

        var target = network.state_dict();
        var mapped = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var duplicates = new List<string>();
        foreach (var (name, tensor) in checkpoint)
        {
            if (!mapped.TryAdd(CheckpointNames.Resolve(name, target), tensor))
                duplicates.Add(name);
        }
        if (duplicates.Count > 0)
            throw new InvalidDataException(
                $"Pretrained weights '{sourceName}': several tensors map to the same name ({string.Join(", ", duplicates.Take(ListedPerKind))}); " +
                "the file mixes a 'module.'-prefixed copy with a plain one.");

        var head = network.HeadTensorNames.ToHashSet(StringComparer.Ordinal);
        string headWeight = network.HeadTensorNames.First(n => n.EndsWith(".weight", StringComparison.Ordinal));
        // A file without the head (a feature extractor) gets a fresh head, as does one with another class count.
        int sourceClassCount = mapped.TryGetValue(headWeight, out var sourceHead) && sourceHead.dim() == 2
            ? checked((int)sourceHead.shape[0])
            : 0;
        bool headReplaced = sourceClassCount != network.ClassCount;

        var missing = new List<string>();
        var misshaped = new List<string>();
        var unexpected = mapped.Keys.Where(n => !target.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        bool auxiliaryInFile = mapped.Keys.Any(n => n.StartsWith(CheckpointNames.Auxiliary, StringComparison.Ordinal));
        bool loadAuxiliary = auxiliaryInFile && !headReplaced;
        var plan = new List<(Tensor Target, Tensor Source, string Name)>();
        foreach (var (name, tensor) in target)
        {
            bool auxiliary = name.StartsWith(CheckpointNames.Auxiliary, StringComparison.Ordinal);
            if (auxiliary && !loadAuxiliary)
                continue;
            if (headReplaced && head.Contains(name))
                continue;
            if (!mapped.TryGetValue(name, out var value))
            {
                if (!name.EndsWith(BatchCounterSuffix, StringComparison.Ordinal))
                    missing.Add($"{name} {Shape(tensor.shape)}");
                continue;
            }
            if (!SameShape(tensor.shape, value.shape))
            {
                misshaped.Add($"{name}: file {Shape(value.shape)}, network {Shape(tensor.shape)}");
                continue;
            }
            plan.Add((tensor, value, name));
        }
        if (missing.Count + misshaped.Count + unexpected.Count > 0)
            throw new InvalidDataException(Mismatch(sourceName, network, missing, unexpected, misshaped));

        using (no_grad())
        using (NewDisposeScope()) // the reshaped views
        {
            foreach (var (to, from, _) in plan)
                to.copy_(from.reshape(to.shape));
        }
        return new PretrainedLoadResult(plan.Select(p => p.Name).ToHashSet(StringComparer.Ordinal), headReplaced, loadAuxiliary, sourceClassCount);
    }

    /// <summary>Equal shapes, or a 0-d scalar against a one-element tensor (counters read back as [1]).</summary>
    private static bool SameShape(long[] target, long[] source)
        => target.SequenceEqual(source)
           || (target.Length <= 1 && source.Length <= 1 && target.Aggregate(1L, (a, b) => a * b) == 1 && source.Aggregate(1L, (a, b) => a * b) == 1);

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string Mismatch(string source, ClassifierNetwork network, List<string> missing, List<string> unexpected, List<string> misshaped)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"Pretrained weights '{source}' do not fit {network.Architecture} ({network.InputChannels} input channels, {network.ClassCount} classes)."));
        Append(text, "missing from the file", missing);
        Append(text, "unexpected (in the file, not in the network)", unexpected);
        Append(text, "mis-shaped", misshaped);
        text.Append(" Names are the network's (a file's 'module.' prefixes are dropped, HSAKD's 'auxiliary_classifier.' reads as 'auxiliary.', " +
                    "other names go under 'backbone.'). Check that the architecture is the one the file was saved from.");
        return text.ToString();
    }

    private static void Append(StringBuilder text, string kind, List<string> names)
    {
        if (names.Count == 0)
            return;
        text.Append(CultureInfo.InvariantCulture, $" {names.Count} {kind}: {string.Join("; ", names.Take(ListedPerKind))}");
        if (names.Count > ListedPerKind)
            text.Append(CultureInfo.InvariantCulture, $"; and {names.Count - ListedPerKind} more");
        text.Append('.');
    }
}
