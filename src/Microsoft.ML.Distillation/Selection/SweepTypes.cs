// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>How a <see cref="StudentSweep"/> chooses and schedules its trials.</summary>
public enum SweepStrategy
{
    /// <summary>Every candidate, in the order given (up to <see cref="StudentSweepOptions.MaxTrials"/>).</summary>
    Grid,

    /// <summary>A seeded random order of the candidates (<see cref="StudentSweepOptions.Seed"/>), up to <see cref="StudentSweepOptions.MaxTrials"/>.</summary>
    Random,

    /// <summary>
    /// Successive halving over epochs: every candidate trains to the first rung, the best 1/η by validation accuracy continue to the
    /// next (η = <see cref="StudentSweepOptions.HalvingFactor"/>), and so on until the full <see cref="TrainingOptions.Epochs"/>. A trial
    /// stopped at a rung continues later from its checkpoint, exactly as if it had not stopped (its learning-rate schedule is that of the
    /// full epochs). All candidates must have the same Epochs.
    /// </summary>
    SuccessiveHalving,
}

/// <summary>What a trial of a sweep came to.</summary>
public enum SweepTrialStatus
{
    /// <summary>Trained to its full epochs; it has a validation accuracy, costs and a model.</summary>
    Completed,

    /// <summary>Not trained: the candidate cannot be trained with this teacher (see <see cref="SweepTrial.Reason"/>), or the budget ran out.</summary>
    Skipped,

    /// <summary>Stopped at a rung of successive halving; it has the validation accuracy of that rung but no model.</summary>
    Stopped,
}

/// <summary>The cost figure a Pareto front or a plot trades accuracy against.</summary>
public enum SweepCostAxis
{
    /// <summary>Milliseconds per image at batch 1 (<see cref="ModelCost.LatencyMilliseconds"/>).</summary>
    Latency,

    /// <summary>Milliseconds per image at the measured batch size (<see cref="ModelCost.BatchLatencyMilliseconds"/>).</summary>
    BatchLatency,

    /// <summary>Inference parameters.</summary>
    Parameters,

    /// <summary>FLOPs per image.</summary>
    Flops,

    /// <summary>Model file bytes.</summary>
    ModelBytes,
}

/// <summary>Limits a deployable student must meet; null means no limit.</summary>
public sealed class SweepConstraints
{
    /// <summary>Most milliseconds per image at batch 1.</summary>
    public double? MaxLatencyMilliseconds;

    /// <summary>Most milliseconds per image at the measured batch size.</summary>
    public double? MaxBatchLatencyMilliseconds;

    /// <summary>Most inference parameters.</summary>
    public long? MaxParameters;

    /// <summary>Most FLOPs per image.</summary>
    public double? MaxFlopsPerImage;

    /// <summary>Largest model file, in bytes.</summary>
    public long? MaxModelBytes;

    /// <summary>True when <paramref name="cost"/> is within every limit.</summary>
    public bool Admits(ModelCost cost)
        => (MaxLatencyMilliseconds is not double l || cost.LatencyMilliseconds is double cl && cl <= l)
           && (MaxBatchLatencyMilliseconds is not double b || cost.BatchLatencyMilliseconds is double cb && cb <= b)
           && (MaxParameters is not long p || cost.Parameters <= p)
           && (MaxFlopsPerImage is not double f || cost.FlopsPerImage <= f)
           && (MaxModelBytes is not long m || cost.ModelBytes <= m);
}

/// <summary>Progress of a sweep, reported at the start of each trial and after each of its epochs.</summary>
/// <param name="Trial">0-based index of the trial.</param>
/// <param name="TrialCount">Trials in the sweep.</param>
/// <param name="Method">The trial's method ("KD", "HSAKD", ...).</param>
/// <param name="Architecture">The trial's student network.</param>
/// <param name="Epoch">The epoch just finished (at the start of a trial: 0, or the epochs its checkpoint holds when a sweep resumes it mid-trial).</param>
/// <param name="EpochCount">The trial's epochs.</param>
/// <param name="Elapsed">Time since the sweep started.</param>
/// <param name="EpochsDone">Epochs trained so far in the whole sweep (all trials).</param>
/// <param name="EpochsPlanned">Epochs the sweep will train in all, in this process: epochs restored from a recorded trial are not
/// counted, nor those a trial resumed from its checkpoint; under successive halving, the rungs' survivors' epochs, which are known before any score (the sweep stops
/// earlier only when its time budget runs out).</param>
/// <param name="EstimatedRemaining">Estimated time left: the epochs still planned for each method times that method's mean time per
/// epoch so far (the mean over all epochs for a method not timed yet, and for later rungs' epochs whose methods are not known yet);
/// null before the first epoch.</param>
public sealed record SweepProgress(int Trial, int TrialCount, string Method, string Architecture, int Epoch, int EpochCount, TimeSpan Elapsed,
    int EpochsDone, int EpochsPlanned, TimeSpan? EstimatedRemaining);

/// <summary>One trial of a sweep: the candidate, what it reached and what it costs.</summary>
public sealed class SweepTrial
{
    internal SweepTrial(int index, string method, StudentOptions options)
    {
        Index = index;
        Method = method;
        Options = options;
    }

    /// <summary>0-based position of the candidate in <see cref="StudentSweepOptions.Candidates"/>.</summary>
    public int Index { get; }

    /// <summary>The method ("Baseline", "KD", "DKD", "HSAKD", ...).</summary>
    public string Method { get; }

    /// <summary>The student network.</summary>
    public string Architecture => Options.Architecture;

    /// <summary>The candidate's options (the sweep trains a copy; this is the object given).</summary>
    public StudentOptions Options { get; }

    /// <summary>What the trial came to.</summary>
    public SweepTrialStatus Status { get; internal set; } = SweepTrialStatus.Skipped;

    /// <summary>Why it was skipped or stopped; null when completed.</summary>
    public string? Reason { get; internal set; } = "not run";

    /// <summary>Accuracy on the sweep's validation data after the last epoch it trained; null when skipped.</summary>
    public double? ValidationAccuracy { get; internal set; }

    /// <summary>Epochs it trained.</summary>
    public int EpochsTrained { get; internal set; }

    /// <summary>Costs of the fitted student; null unless completed.</summary>
    public ModelCost? Cost { get; internal set; }

    /// <summary>Seconds of training (all its rungs, pre-stages included).</summary>
    public double TrainingSeconds { get; internal set; }

    /// <summary>
    /// Peak resident memory of the process while the trial trained, in bytes (Linux: the high-water mark, reset before the trial;
    /// elsewhere: the process's peak so far, an upper bound).
    /// </summary>
    public long PeakMemoryBytes { get; internal set; }

    /// <summary>The fitted student; null unless completed. Disposed with the sweep's result.</summary>
    public ImageClassifierTransformer? Model { get; internal set; }

    /// <summary>Path of the saved student when the sweep has an output folder; null otherwise.</summary>
    public string? ModelPath { get; internal set; }

    /// <summary>The cost on <paramref name="axis"/>; null when not known.</summary>
    public double? CostOn(SweepCostAxis axis) => Cost is not { } c ? null : axis switch
    {
        SweepCostAxis.Latency => c.LatencyMilliseconds,
        SweepCostAxis.BatchLatency => c.BatchLatencyMilliseconds,
        SweepCostAxis.Parameters => c.Parameters,
        SweepCostAxis.Flops => c.FlopsPerImage,
        SweepCostAxis.ModelBytes => c.ModelBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(axis), axis, "Unknown cost axis."),
    };
}

/// <summary>
/// One of <see cref="Count"/> parts of a sweep, run by its own process (a Slurm array task, a Kubernetes Indexed Job pod, a background
/// process) into the same output folder. Shard <see cref="Index"/> takes the trials at positions Index, Index + Count, ... of the
/// sweep's order (the order of the strategy, after MaxTrials), so the parts are the same on every machine; <see cref="StudentSweep.Merge"/>
/// then builds the result of the whole sweep.
/// </summary>
/// <param name="Index">0-based: 0 to Count - 1.</param>
/// <param name="Count">Number of shards, at least 1.</param>
public readonly record struct SweepShard(int Index, int Count)
{
    /// <summary>Reads "i/N" (0-based i), as in <c>--shard 0/4</c>; a Slurm array task passes <c>$SLURM_ARRAY_TASK_ID/N</c>, a Kubernetes Indexed Job <c>$JOB_COMPLETION_INDEX/N</c>.</summary>
    /// <exception cref="FormatException">The text is not "i/N" with 0 &lt;= i &lt; N.</exception>
    public static SweepShard Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int count)
            && count >= 1 && index < count)
            return new SweepShard(index, count);
        throw new FormatException($"A shard is written i/N with 0 <= i < N (for example 0/4, the first of four), but '{text}' was given.");
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
