// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Every peer of an online distillation (<see cref="Estimators.OnlineEstimator.FitPeers"/>), each an ordinary fitted model, with the validation
/// accuracy of each and the one <c>Fit</c> returns. Disposing it disposes every peer.
/// </summary>
public sealed class OnlinePeers : IDisposable
{
    internal OnlinePeers(IReadOnlyList<ImageClassifierTransformer> peers, IReadOnlyList<string> architectures, int selectedIndex,
        IReadOnlyList<double>? validationAccuracies)
    {
        Peers = peers;
        Architectures = architectures;
        SelectedIndex = selectedIndex;
        ValidationAccuracies = validationAccuracies;
    }

    /// <summary>The trained peers, in the order of the options (peer 0 first).</summary>
    public IReadOnlyList<ImageClassifierTransformer> Peers { get; }

    /// <summary>Each peer's architecture.</summary>
    public IReadOnlyList<string> Architectures { get; }

    /// <summary>
    /// The peer <c>Fit</c> returns: the best on the validation set (the lowest index on a tie) when one was given, else 0.
    /// </summary>
    public int SelectedIndex { get; }

    /// <summary>The selected peer.</summary>
    public ImageClassifierTransformer Selected => Peers[SelectedIndex];

    /// <summary>Each peer's top-1 accuracy on the validation set after training (0..1), or null when no validation set was given.</summary>
    public IReadOnlyList<double>? ValidationAccuracies { get; }

    /// <summary>Disposes every peer.</summary>
    public void Dispose()
    {
        foreach (var peer in Peers)
            peer.Dispose();
    }

    internal string Describe()
    {
        var parts = Peers.Select((_, m) => $"peer {m} {Architectures[m]}"
            + (ValidationAccuracies is null ? "" : string.Create(CultureInfo.InvariantCulture, $" {ValidationAccuracies[m]:P2} on validation")));
        return string.Join(", ", parts) + $"; returning peer {SelectedIndex}"
            + (ValidationAccuracies is null ? " (no validation set)." : " (best on validation).");
    }
}
