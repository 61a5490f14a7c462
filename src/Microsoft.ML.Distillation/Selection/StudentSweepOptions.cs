// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options of <c>mlContext.Distillation.CreateStudentSweep</c>: the candidate students, the validation data that ranks them, the
/// strategy and the budget. Each candidate is a method's options object (<see cref="KdOptions"/>, <see cref="HsakdOptions"/>, ...,
/// plain <see cref="StudentOptions"/> for the baseline); <see cref="StudentSweepCandidates"/> builds the usual grids.
/// </summary>
public sealed class StudentSweepOptions
{
    /// <summary>The candidates, tried in this order by <see cref="SweepStrategy.Grid"/>. Required (at least one). The sweep trains copies; the objects are not changed.</summary>
    public IList<StudentOptions> Candidates = new List<StudentOptions>();

    /// <summary>
    /// Held-out data that ranks the candidates (same columns and label keys as the training data). Required: a sweep that ranked on
    /// its training data would prefer the students that memorise best.
    /// </summary>
    public IDataView? ValidationSet;

    /// <summary>Grid (default), seeded random order, or successive halving over epochs.</summary>
    public SweepStrategy Strategy = SweepStrategy.Grid;

    /// <summary>Most trials to run (candidates beyond it are skipped, reason "MaxTrials"); null (default) for all.</summary>
    public int? MaxTrials;

    /// <summary>No new trial (or rung) starts after this much time; the running one finishes. Null (default): no limit.</summary>
    public TimeSpan? TimeBudget;

    /// <summary>
    /// Seed of the random strategy's order, and the training seed of every candidate that sets none (so that all candidates see the
    /// same data order and a resumed sweep trains the same students). Default 1.
    /// </summary>
    public int Seed = 1;

    /// <summary>η of successive halving: at each rung the best 1/η continue. Default 3.</summary>
    public int HalvingFactor = 3;

    /// <summary>Epochs of the first rung of successive halving at least. Default 1.</summary>
    public int MinimumEpochs = 1;

    /// <summary>
    /// Folder for the sweep's state: each trial's checkpoints and saved student, and <c>sweep.json</c> with the results so far. With it
    /// a sweep that was stopped (killed, cancelled) resumes when run again with the same candidates: finished trials are not re-run and
    /// the running one continues from its last checkpoint. Null (default): nothing is written and students stay in memory only.
    /// </summary>
    public string? OutputFolder;

    /// <summary>
    /// Runs only this part of the sweep (see <see cref="SweepShard"/>); requires <see cref="OutputFolder"/>, shared by all shards, and
    /// the Grid or Random strategy (successive halving compares all candidates at each rung, so it does not split). Every shard is given
    /// the same options apart from this one. Null (default): the whole sweep in this process.
    /// </summary>
    public SweepShard? Shard;

    /// <summary>How each trained student's cost is measured (latency batch size, repetitions, or the application's own probe).</summary>
    public CostMeasurementOptions Cost = new();

    /// <summary>Called at the start of each trial and after each of its epochs (trial n of N, epoch, estimated time left).</summary>
    public Action<SweepProgress>? ProgressCallback;

    /// <summary>Stops the sweep within one batch; the trial being trained keeps its last checkpoint (with an output folder).</summary>
    public CancellationToken CancellationToken;
}

/// <summary>Builders for the usual candidate lists.</summary>
public static class StudentSweepCandidates
{
    /// <summary>
    /// Every architecture with every method: for each architecture, each factory's fresh options with that architecture set.
    /// </summary>
    /// <param name="architectures">Student networks ("resnet8", "wrn16_2", ...).</param>
    /// <param name="methods">One factory per method, returning fresh options (e.g. <c>() => new KdOptions { Epochs = 30 }</c>).</param>
    public static IList<StudentOptions> Cross(IEnumerable<string> architectures, params Func<StudentOptions>[] methods)
    {
        ArgumentNullException.ThrowIfNull(architectures);
        ArgumentNullException.ThrowIfNull(methods);
        var result = new List<StudentOptions>();
        foreach (string architecture in architectures)
        {
            foreach (var method in methods)
            {
                var options = method() ?? throw new ArgumentException("A method factory returned null.", nameof(methods));
                options.Architecture = architecture;
                result.Add(options);
            }
        }

        return result;
    }
}
