// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Selection;

/// <summary>
/// Successive halving over epochs (Jamieson &amp; Talwalkar, 2016; the rung rule of Hyperband): all candidates train to the first rung,
/// the best ⌈n / η⌉ continue to the next, and so on; the last rung is the full epochs.
/// </summary>
internal static class SuccessiveHalving
{
    /// <summary>
    /// The rungs for <paramref name="epochs"/>: E, ⌊E/η⌋, ⌊E/η²⌋, ... down to the last that is at least <paramref name="minimumEpochs"/>,
    /// in ascending order (9 epochs, η 3, minimum 1: 1, 3, 9; 10: 1, 3, 10; 2: just 2).
    /// </summary>
    public static int[] Rungs(int epochs, int factor, int minimumEpochs)
    {
        if (epochs < 1)
            throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "Epochs must be at least 1.");
        if (factor < 2)
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The halving factor must be at least 2.");
        var rungs = new List<int> { epochs };
        for (int r = epochs / factor; r >= Math.Max(1, minimumEpochs); r /= factor)
            rungs.Insert(0, r);
        return rungs.ToArray();
    }

    /// <summary>How far a candidate got and its validation score there.</summary>
    public sealed record Outcome(int Candidate, int EpochsTrained, double Score, bool Completed);

    /// <summary>
    /// Runs the halving: <paramref name="trainTo"/>(candidate, epochs) trains a candidate on to that many epochs in all (continuing
    /// where it stopped) and returns its validation score. Ties keep the earlier candidate. Returns each candidate's outcome (input
    /// order) and the epochs trained in all (each candidate's epochs counted once: continuing from rung r to r' costs r' − r).
    /// Returns early, with the rest not run further, when <paramref name="stop"/> says so before a training.
    /// </summary>
    public static (IReadOnlyList<Outcome> Outcomes, int EpochsTrained) Run(int candidates, IReadOnlyList<int> rungs, int factor,
        Func<int, int, double> trainTo, Func<bool>? stop = null)
    {
        var trained = new int[candidates];
        var score = new double[candidates];
        var alive = Enumerable.Range(0, candidates).ToList();
        int total = 0;
        for (int k = 0; k < rungs.Count && alive.Count > 0; k++)
        {
            foreach (int c in alive)
            {
                if (stop?.Invoke() == true)
                    return (Outcomes(), total);
                score[c] = trainTo(c, rungs[k]);
                total += rungs[k] - trained[c];
                trained[c] = rungs[k];
            }

            if (k < rungs.Count - 1)
            {
                alive = [.. alive.OrderByDescending(c => score[c]).ThenBy(c => c).Take(Survivors(alive.Count, factor)).OrderBy(c => c)];
            }
        }

        return (Outcomes(), total);

        IReadOnlyList<Outcome> Outcomes() => Enumerable.Range(0, candidates)
            .Select(c => new Outcome(c, trained[c], score[c], trained[c] == rungs[^1])).ToArray();
    }

    /// <summary>
    /// The epochs <see cref="Run"/> trains in all when nothing stops it: known before any score, since only the number of survivors
    /// of each rung matters (9 candidates, rungs 1, 3, 9, η 3: 9·1 + 3·2 + 1·6 = 21).
    /// </summary>
    public static int PlannedEpochs(int candidates, IReadOnlyList<int> rungs, int factor)
    {
        int alive = candidates, total = 0, previous = 0;
        for (int k = 0; k < rungs.Count && alive > 0; k++)
        {
            total += alive * (rungs[k] - previous);
            previous = rungs[k];
            if (k < rungs.Count - 1)
                alive = Survivors(alive, factor);
        }

        return total;
    }

    /// <summary>⌈n / η⌉ of n candidates go on to the next rung, at least one.</summary>
    private static int Survivors(int alive, int factor) => Math.Max(1, (alive + factor - 1) / factor);
}
