// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// Multi-step decay as the HSAKD code's <c>adjust_lr</c>: the rate for 0-based epoch e is
/// <c>initial · decay^(number of milestones ≤ e)</c>. Stateless, so a resumed training gets the same rate.
/// </summary>
internal sealed class LearningRateSchedule
{
    public LearningRateSchedule(double initial, IReadOnlyList<int> milestones, double decay)
    {
        Initial = initial;
        Milestones = milestones.OrderBy(m => m).ToArray();
        Decay = decay;
    }

    public double Initial { get; }

    public IReadOnlyList<int> Milestones { get; }

    public double Decay { get; }

    /// <summary>The rate for a 0-based epoch.</summary>
    public double At(int epoch) => Initial * Math.Pow(Decay, Milestones.Count(m => m <= epoch));

    /// <summary>
    /// The paper's milestones (150, 180, 210 of 240 epochs) scaled to <paramref name="epochs"/>: 62.5%, 75% and 87.5% of the way,
    /// rounded down, duplicates and zeros dropped.
    /// </summary>
    public static int[] ScaledDefaultMilestones(int epochs)
        => new[] { 0.625, 0.75, 0.875 }.Select(f => (int)Math.Floor(epochs * f)).Where(m => m > 0).Distinct().ToArray();
}
