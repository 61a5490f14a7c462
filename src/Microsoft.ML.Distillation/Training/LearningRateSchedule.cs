// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// Multi-step decay as the HSAKD code's <c>adjust_lr</c>: the rate for 0-based epoch e is
/// <c>initial · decay^(number of milestones ≤ e)</c>, optionally with a linear warm-up over the first epochs, step by step (MixSKD's).
/// Stateless, so a resumed training gets the same rate.
/// </summary>
internal sealed class LearningRateSchedule
{
    /// <summary>The paper's milestones, 150, 180 and 210 of 240 epochs, as fractions of the run.</summary>
    public static readonly double[] PaperFractions = [0.625, 0.75, 0.875];

    public LearningRateSchedule(double initial, IReadOnlyList<int> milestones, double decay, int warmupEpochs = 0)
    {
        Initial = initial;
        Milestones = milestones.OrderBy(m => m).ToArray();
        Decay = decay;
        WarmupEpochs = warmupEpochs;
    }

    /// <summary>Epochs over which the rate rises linearly, step by step, to its scheduled value (0: none).</summary>
    public int WarmupEpochs { get; }

    public double Initial { get; }

    public IReadOnlyList<int> Milestones { get; }

    public double Decay { get; }

    /// <summary>The rate for a 0-based epoch (after any warm-up).</summary>
    public double At(int epoch) => Initial * Math.Pow(Decay, Milestones.Count(m => m <= epoch));

    /// <summary>
    /// The rate at 0-based step <paramref name="step"/> of <paramref name="stepsPerEpoch"/> in epoch <paramref name="epoch"/>: during the
    /// warm-up, <c>At(epoch) · (epoch · N + step + 1) / (WarmupEpochs · N)</c>, reaching the scheduled rate at the warm-up's last step;
    /// afterwards <see cref="At(int)"/>.
    /// </summary>
    public double At(int epoch, int step, int stepsPerEpoch)
        => epoch < WarmupEpochs
            ? At(epoch) * ((double)epoch * stepsPerEpoch + step + 1) / ((double)WarmupEpochs * stepsPerEpoch)
            : At(epoch);

    /// <summary>
    /// A schedule given as fractions of the run (a reference schedule written for another number of epochs), scaled to
    /// <paramref name="epochs"/>: milestone = ⌊epochs · fraction⌋, rounded down.
    /// </summary>
    /// <remarks>
    /// The rule for short runs, used by every stage that scales a schedule: a milestone that rounds to epoch 0 is dropped (it would
    /// decay the rate before the first epoch, so the stage would never train at its own rate), as is one at or past the last epoch,
    /// and milestones that round to the same epoch decay once, not once each. A 1-epoch stage therefore trains at its initial rate.
    /// </remarks>
    public static int[] ScaledMilestones(int epochs, IEnumerable<double> fractions)
        => fractions.Select(f => (int)Math.Floor(epochs * f)).Where(m => m > 0 && m < epochs).Distinct().Order().ToArray();

    /// <summary>The paper's milestones (150, 180, 210 of 240 epochs) scaled to <paramref name="epochs"/> by <see cref="ScaledMilestones"/>.</summary>
    public static int[] ScaledDefaultMilestones(int epochs) => ScaledMilestones(epochs, PaperFractions);
}
