// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Online;

/// <summary>What the online losses share: reading the peers' outputs of a step.</summary>
internal static class PeerGroupLoss
{
    /// <summary>The peers' outputs of <paramref name="batch"/>; an error naming <paramref name="method"/> when the network was not a peer group.</summary>
    public static IReadOnlyList<NetworkOutput> Peers(LossBatch batch, string method)
        => batch.Student.Peers.Count >= 2
            ? batch.Student.Peers
            : throw new InvalidOperationException($"{method} trains a group of peer networks together, but the step ran a single network.");
}

/// <summary>
/// Top-1 training accuracy of every peer over an epoch (the engine's own accuracy is peer 0's), counted on the device without a
/// host synchronisation per step and read once per epoch as the diagnostics <c>peer{m}_train_acc</c>; optionally of further
/// classifiers of the method (FFL's fused one: <c>fused_train_acc</c>), counted after the peers under the indices that follow.
/// </summary>
internal sealed class PeerAccuracy : IDisposable
{
    private readonly Tensor?[] _correct;
    private readonly string[] _names;
    private long _seen;

    public PeerAccuracy(int peerCount, params string[] extraClassifiers)
    {
        _names = [.. Enumerable.Range(0, peerCount).Select(m => $"peer{m}"), .. extraClassifiers];
        _correct = new Tensor?[_names.Length];
    }

    /// <summary>Adds the step's correct predictions of classifier <paramref name="peer"/> (logits of the B original rows).</summary>
    public void Count(int peer, Tensor logits, Tensor labels)
    {
        using (no_grad())
        {
            var hits = logits.argmax(1).eq(labels).sum();
            if (_correct[peer] is { } sum)
                sum.add_(hits);
            else
                _correct[peer] = hits.DetachFromDisposeScope();
        }
        if (peer == 0)
            _seen += labels.shape[0];
    }

    /// <summary>The epoch's accuracies by name, and a fresh count for the next epoch; null when nothing was counted.</summary>
    public IReadOnlyDictionary<string, double>? TakeEpoch()
    {
        if (_seen == 0)
            return null;
        var result = new Dictionary<string, double>();
        for (int m = 0; m < _correct.Length; m++)
        {
            if (_correct[m] is { } sum)
            {
                result[$"{_names[m]}_train_acc"] = sum.item<long>() / (double)_seen;
                sum.Dispose();
                _correct[m] = null;
            }
        }
        _seen = 0;
        return result;
    }

    /// <summary>Releases a count left by an interrupted epoch.</summary>
    public void Dispose()
    {
        for (int m = 0; m < _correct.Length; m++)
        {
            _correct[m]?.Dispose();
            _correct[m] = null;
        }
    }
}
