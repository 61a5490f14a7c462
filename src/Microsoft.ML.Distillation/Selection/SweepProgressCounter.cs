// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Selection;

/// <summary>
/// Counts a sweep's epochs for its progress reports and estimates the time left: the epochs still planned for each method times that
/// method's mean time per epoch so far (an HSAKD epoch costs several KD epochs), the mean over every epoch for a method not timed yet
/// and for the epochs not yet assigned to a method (a successive-halving sweep's later rungs, whose survivors are not known yet).
/// </summary>
/// <param name="plannedByMethod">Epochs each method will train. Changed as the sweep goes.</param>
/// <param name="elapsed">Time since the sweep started.</param>
/// <param name="trialCount">Trials in the sweep.</param>
/// <param name="unassignedEpochs">Epochs that will be trained by methods not known yet (see <see cref="Assign"/>).</param>
internal sealed class SweepProgressCounter(Dictionary<string, int> plannedByMethod, Func<TimeSpan> elapsed, int trialCount, int unassignedEpochs = 0)
{
    private readonly Dictionary<string, (TimeSpan Time, int Epochs)> _timed = new(StringComparer.Ordinal);
    private readonly Dictionary<int, int> _lastEpoch = [];
    private int _unassigned = unassignedEpochs;
    private int _done;
    private TimeSpan _mark;

    /// <summary>A trial starts (or continues) with <paramref name="epoch"/> epochs already behind it.</summary>
    public void Start(SweepTrial trial, int position, int epoch, int epochCount, Action<SweepProgress>? callback)
    {
        _mark = elapsed();
        _lastEpoch[trial.Index] = epoch;
        Report(trial, position, epoch, epochCount, callback);
    }

    /// <summary>
    /// A trial finished <paramref name="epoch"/>. Epochs it skipped since the last report were restored from its checkpoint (a sweep
    /// resumed mid-trial): they leave the plan without counting as trained or entering the time per epoch.
    /// </summary>
    public void Epoch(SweepTrial trial, int position, int epoch, int epochCount, Action<SweepProgress>? callback)
    {
        var now = elapsed();
        int restored = epoch - _lastEpoch.GetValueOrDefault(trial.Index) - 1;
        if (restored > 0)
            Skip(trial.Method, restored);
        _lastEpoch[trial.Index] = epoch;
        var (time, epochs) = _timed.GetValueOrDefault(trial.Method);
        _timed[trial.Method] = (time + (now - _mark), epochs + 1);
        _mark = now;
        _done++;
        plannedByMethod[trial.Method] = plannedByMethod.GetValueOrDefault(trial.Method) - 1;
        Report(trial, position, epoch, epochCount, callback);
    }

    /// <summary>Epochs restored instead of trained (a recorded rung, a checkpoint): no longer planned, and not in the time estimate's rate.</summary>
    public void Skip(string method, int epochs) => plannedByMethod[method] = plannedByMethod.GetValueOrDefault(method) - epochs;

    /// <summary>Unassigned epochs that <paramref name="method"/> now takes on (a survivor of a rung going on to the next).</summary>
    public void Assign(string method, int epochs)
    {
        _unassigned -= epochs;
        plannedByMethod[method] = plannedByMethod.GetValueOrDefault(method) + epochs;
    }

    private void Report(SweepTrial trial, int position, int epoch, int epochCount, Action<SweepProgress>? callback)
        => callback?.Invoke(new SweepProgress(position, trialCount, trial.Method, trial.Architecture, epoch, epochCount, elapsed(), _done,
            _done + plannedByMethod.Values.Sum(e => Math.Max(0, e)) + Math.Max(0, _unassigned), Remaining()));

    private TimeSpan? Remaining()
    {
        if (_done == 0)
            return null;
        var overall = _timed.Values.Aggregate(TimeSpan.Zero, (sum, t) => sum + t.Time) / _done;
        var left = overall * Math.Max(0, _unassigned);
        foreach (var (method, epochs) in plannedByMethod)
            left += (_timed.TryGetValue(method, out var t) ? t.Time / t.Epochs : overall) * Math.Max(0, epochs);
        return left;
    }
}
