// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Distillation.Selection;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// A model-selection sweep: one teacher, many candidate students, each trained and scored on held-out data and measured for cost, so
/// that the accuracy-versus-cost front shows which student to deploy. Create it with <c>mlContext.Distillation.CreateStudentSweep</c>
/// and train it with <see cref="Run"/>.
/// </summary>
/// <remarks>
/// <para>The teacher is shared: it is loaded once (when given as a path), and its pre-stages (SSKD's projection head, MGD's branches)
/// are trained once per sweep and reused by every student with the same data and stage settings.</para>
/// <para>Latency is timed once per architecture and shared by the trials of that network, so the front compares networks and
/// methods, not timer noise.</para>
/// <para>Candidates that cannot be trained with this teacher (an HSAKD student whose auxiliary branches do not pair with the
/// teacher's) are left out with the reason; other invalid options are refused before anything trains.</para>
/// <para>A sweep created from a teacher's path owns that teacher and frees it on <see cref="Dispose"/>; a teacher passed in as an
/// object stays the caller's. The results' students are never disposed by the sweep.</para>
/// </remarks>
public sealed class StudentSweep : IDisposable
{
    private readonly IHostEnvironment _env;
    private readonly ITransformer _teacher;
    private readonly TrainedClassifier _teacherModel;
    private readonly StudentSweepOptions _options;
    private readonly string[] _methods;
    private readonly string?[] _unpairable;
    private readonly Dictionary<string, ModelCost> _latencies = new(StringComparer.Ordinal);
    private readonly bool _ownsTeacher;
    private bool _disposed;

    internal StudentSweep(IHostEnvironment env, ITransformer teacher, StudentSweepOptions options, bool ownsTeacher = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        _env = env;
        _teacher = teacher ?? throw new ArgumentNullException(nameof(teacher));
        _options = options;
        _ownsTeacher = ownsTeacher;
        _teacherModel = TrainedClassifier.FromTeacher(teacher);
        if (options.Shard is SweepShard shard)
        {
            if (shard.Count < 1 || shard.Index < 0 || shard.Index >= shard.Count)
                throw new ArgumentOutOfRangeException(nameof(options.Shard), shard, "Shard must have Count >= 1 and 0 <= Index < Count.");
            if (options.OutputFolder is null)
                throw new ArgumentException("Shard needs OutputFolder: the shards write their trials to one shared folder, which Merge reads.", nameof(options.Shard));
            if (options.Strategy == SweepStrategy.SuccessiveHalving)
                throw new ArgumentException(
                    "Shard works with the Grid and Random strategies; successive halving compares all candidates at each rung, so it runs in one process.",
                    nameof(options.Shard));
        }

        if (options.Candidates is not { Count: > 0 })
            throw new ArgumentException("Candidates must hold at least one student's options.", nameof(options.Candidates));
        if (options.ValidationSet is null)
            throw new ArgumentException(
                "ValidationSet is required: the sweep ranks the candidates on held-out data (for example mlContext.Data.TrainTestSplit of the training data).",
                nameof(options.ValidationSet));
        if (options.MaxTrials is int m && m < 1)
            throw new ArgumentOutOfRangeException(nameof(options.MaxTrials), m, "MaxTrials must be at least 1, or null for all candidates.");
        if (options.HalvingFactor < 2)
            throw new ArgumentOutOfRangeException(nameof(options.HalvingFactor), options.HalvingFactor, "HalvingFactor must be at least 2.");
        if (options.MinimumEpochs < 1)
            throw new ArgumentOutOfRangeException(nameof(options.MinimumEpochs), options.MinimumEpochs, "MinimumEpochs must be at least 1.");
        if (options.Strategy == SweepStrategy.SuccessiveHalving && options.Candidates.Select(c => c.Epochs).Distinct().Count() > 1)
            throw new ArgumentException(
                "SuccessiveHalving compares the candidates at the same epochs, so all must have the same Epochs; they have " +
                string.Join(", ", options.Candidates.Select(c => c.Epochs).Distinct()) + ".", nameof(options.Candidates));

        _methods = new string[options.Candidates.Count];
        _unpairable = new string?[options.Candidates.Count];
        for (int i = 0; i < options.Candidates.Count; i++)
        {
            var candidate = options.Candidates[i] ?? throw new ArgumentException($"Candidates[{i}] is null.", nameof(options.Candidates));
            try
            {
                _methods[i] = MethodName((object)candidate.CreateEstimator(env, teacher));
            }
            catch (ArgumentException e) when (e.ParamName == nameof(TrainingOptions.Architecture))
            {
                _methods[i] = MethodName(candidate);
                _unpairable[i] = e.Message;
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Candidates[{i}] ({candidate.GetType().Name}, {candidate.Architecture}): {e.Message}", nameof(options.Candidates), e);
            }
        }
    }

    /// <summary>
    /// Trains the candidates on <paramref name="trainData"/> by the options' strategy and budget, and returns every trial with its
    /// validation accuracy and cost. With an output folder, a sweep that was stopped resumes where it stopped. With
    /// <see cref="StudentSweepOptions.Shard"/>, only that shard's trials are trained (the others are reported as skipped, "in shard
    /// i/N"); <see cref="Merge"/> then gives the whole result.
    /// </summary>
    /// <param name="trainData">Training data: the columns the candidates' options name, labels as keys (as the teacher's).</param>
    public StudentSweepResult Run(IDataView trainData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Execute(trainData, _options.Shard);
    }

    /// <summary>The teacher every trial distils from.</summary>
    internal ITransformer Teacher => _teacher;

    /// <summary>Frees the teacher when this sweep loaded it from a path; a teacher passed in as an object is left to its owner.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_ownsTeacher)
            (_teacher as IDisposable)?.Dispose();
    }

    /// <summary>
    /// The result of the whole sweep from what its shards wrote to <see cref="StudentSweepOptions.OutputFolder"/>: the same trials,
    /// accuracies, costs and fitted students as one process running every trial would give (training is deterministic for a seed),
    /// and <c>sweep.json</c> rewritten with all of them. Nothing is trained: a trial that no shard has finished is reported as skipped
    /// with the reason. Run it after every shard has ended, with the same options (its own <see cref="StudentSweepOptions.Shard"/> is ignored).
    /// </summary>
    /// <exception cref="InvalidOperationException">The options have no output folder, or use successive halving.</exception>
    public StudentSweepResult Merge()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_options.OutputFolder is null)
            throw new InvalidOperationException("Merge reads the results the shards wrote to StudentSweepOptions.OutputFolder, but it is not set.");
        if (_options.Strategy == SweepStrategy.SuccessiveHalving)
            throw new InvalidOperationException("Merge combines the shards of a Grid or Random sweep; a successive-halving sweep runs in one process.");
        return Execute(null, null);
    }

    /// <summary>Runs (<paramref name="trainData"/> given) or only restores (null: <see cref="Merge"/>) the trials of <paramref name="shard"/>, or all.</summary>
    private StudentSweepResult Execute(IDataView? trainData, SweepShard? shard)
    {
        var options = _options;
        var clock = Stopwatch.StartNew();
        var trials = options.Candidates.Select((c, i) => new SweepTrial(i, _methods[i], c)).ToArray();
        string? temporaryFolder = null;
        string? folder = options.OutputFolder;
        if (folder is null && options.Strategy == SweepStrategy.SuccessiveHalving)
            folder = temporaryFolder = Directory.CreateTempSubdirectory("distillation-sweep-").FullName;
        if (folder is not null)
            TeacherStageCache.PersistTo(_teacherModel, Path.Combine(folder, TeacherStagesFolder));
        var store = folder is null ? null : SweepStore.Open(folder, trials.Select(Fingerprint).ToArray(), shard);
        var result = new StudentSweepResult(trials);
        try
        {
            var order = Enumerable.Range(0, trials.Length).ToList();
            if (options.Strategy == SweepStrategy.Random)
                order = order.Shuffled(new Random(options.Seed));
            var runnable = order.Where(i => _unpairable[i] is null).ToList();
            foreach (int i in order.Where(i => _unpairable[i] is not null))
                trials[i].Reason = "cannot pair with the teacher: " + _unpairable[i];
            if (options.MaxTrials is int max && runnable.Count > max)
            {
                foreach (int i in runnable.Skip(max))
                    trials[i].Reason = $"beyond MaxTrials ({max})";
                runnable = runnable.Take(max).ToList();
            }

            if (shard is SweepShard part)
            {
                for (int k = 0; k < runnable.Count; k++)
                {
                    if (k % part.Count != part.Index)
                        trials[runnable[k]].Reason = string.Create(CultureInfo.InvariantCulture, $"in shard {k % part.Count}/{part.Count}");
                }

                runnable = runnable.Where((_, k) => k % part.Count == part.Index).ToList();
            }

            if (trainData is null)
            {
                foreach (int i in runnable)
                {
                    if (store!.Restore(trials[i], trials[i].Options.Epochs, _env) is null)
                        trials[i].Reason = "not finished by any shard yet";
                }
            }
            else
            {
                Train(trials, runnable, trainData, store, folder, clock);
            }

            store?.Save(trials);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
        finally
        {
            // Fits outside the sweep with this teacher must not write into (or recreate) the sweep's folder.
            if (folder is not null)
                TeacherStageCache.StopPersisting(_teacherModel);
            if (temporaryFolder is not null)
                Directory.Delete(temporaryFolder, recursive: true);
        }
    }

    private void Train(SweepTrial[] trials, List<int> runnable, IDataView trainData, SweepStore? store, string? folder, Stopwatch clock)
    {
        var options = _options;
        bool OutOfTime() => options.TimeBudget is TimeSpan budget && clock.Elapsed >= budget;
        if (options.Strategy == SweepStrategy.SuccessiveHalving)
        {
            int epochs = trials[runnable.FirstOrDefault()].Options.Epochs;
            var rungs = SuccessiveHalving.Rungs(epochs, options.HalvingFactor, options.MinimumEpochs);
            // The first rung's epochs belong to known methods; the later rungs' total is known, not which methods will train them.
            var firstRung = runnable.GroupBy(i => trials[i].Method).ToDictionary(g => g.Key, g => g.Count() * rungs[0], StringComparer.Ordinal);
            int later = SuccessiveHalving.PlannedEpochs(runnable.Count, rungs, options.HalvingFactor) - runnable.Count * rungs[0];
            var halving = new SweepProgressCounter(firstRung, () => clock.Elapsed, runnable.Count, later);
            var (outcomes, _) = SuccessiveHalving.Run(runnable.Count, rungs, options.HalvingFactor,
                (c, target) =>
                {
                    var trial = trials[runnable[c]];
                    if (trial.EpochsTrained > 0)
                        halving.Assign(trial.Method, target - trial.EpochsTrained);
                    return TrainTo(trial, c, target, trainData, store, folder!, halving);
                },
                OutOfTime);
            foreach (var outcome in outcomes)
            {
                var trial = trials[runnable[outcome.Candidate]];
                if (outcome.EpochsTrained == 0)
                    trial.Reason = "time budget spent";
                else if (!outcome.Completed)
                {
                    trial.Status = SweepTrialStatus.Stopped;
                    trial.Reason = string.Create(CultureInfo.InvariantCulture, $"stopped by successive halving at epoch {outcome.EpochsTrained}");
                }
            }

            return;
        }

        var planned = runnable.GroupBy(i => trials[i].Method).ToDictionary(g => g.Key, g => g.Sum(i => trials[i].Options.Epochs), StringComparer.Ordinal);
        var progress = new SweepProgressCounter(planned, () => clock.Elapsed, runnable.Count);
        for (int k = 0; k < runnable.Count; k++)
        {
            var trial = trials[runnable[k]];
            if (OutOfTime())
            {
                trial.Reason = "time budget spent";
                continue;
            }

            TrainTo(trial, k, trial.Options.Epochs, trainData, store, folder, progress);
        }
    }

    /// <summary>Trains (or continues) one trial to <paramref name="epochs"/> in all and returns its validation accuracy there.</summary>
    private double TrainTo(SweepTrial trial, int position, int epochs, IDataView trainData, SweepStore? store, string? folder, SweepProgressCounter progress)
    {
        _options.CancellationToken.ThrowIfCancellationRequested();
        int trainedBefore = trial.EpochsTrained;
        if (store?.Restore(trial, epochs, _env) is double recorded)
        {
            if (trial.Cost is { } restored)
                _latencies.TryAdd(trial.Architecture, restored);
            progress.Skip(trial.Method, epochs - trainedBefore);
            return recorded;
        }

        var options = (StudentOptions)trial.Options.ShallowCopy();
        bool full = epochs == options.Epochs;
        string? checkpoints = folder is null ? null : Path.Combine(folder, TrialFolder(trial.Index), "checkpoints");
        var newest = checkpoints is null ? null : NewestCheckpoint(checkpoints, trial.Method);
        if (!full && newest?.EpochsCompleted == epochs && newest.ValidationAccuracy is double atRung)
        {
            // The process stopped after the rung's checkpoint but before its record: the rung is done, resuming would train past it.
            progress.Skip(trial.Method, epochs - trainedBefore);
            return Reached(trial, epochs, atRung, store);
        }

        using var rung = CancellationTokenSource.CreateLinkedTokenSource(_options.CancellationToken);
        double? lastAccuracy = null;
        var userCallback = options.MetricsCallback;
        options.ValidationSet = _options.ValidationSet;
        options.Seed ??= _options.Seed;
        options.CancellationToken = rung.Token;
        if (checkpoints is not null)
        {
            options.CheckpointDirectory = checkpoints;
            options.Resume = true;
        }

        options.MetricsCallback = m =>
        {
            userCallback?.Invoke(m);
            if (m.Phase != trial.Method || m.EpochCount != options.Epochs)
                return;
            lastAccuracy = m.ValidationAccuracy;
            progress.Epoch(trial, position, m.Epoch, options.Epochs, _options.ProgressCallback);
            if (!full && m.Epoch >= epochs)
                rung.Cancel();
        };

        // Epochs the trial's checkpoint holds beyond its record (a sweep stopped mid-trial) are restored, not trained.
        int startsAfter = newest is { } m && m.EpochsCompleted > trial.EpochsTrained && m.EpochsCompleted <= epochs ? m.EpochsCompleted : trial.EpochsTrained;
        progress.Skip(trial.Method, startsAfter - trial.EpochsTrained);
        progress.Start(trial, position, startsAfter, options.Epochs, _options.ProgressCallback);
        PeakMemory.Reset();
        var clock = Stopwatch.StartNew();
        ImageClassifierTransformer? model = null;
        try
        {
            model = options.CreateEstimator(_env, _teacher).Fit(trainData);
        }
        catch (OperationCanceledException) when (!full && rung.IsCancellationRequested && !_options.CancellationToken.IsCancellationRequested)
        {
            // Stopped at the rung, after its checkpoint.
        }
        finally
        {
            trial.TrainingSeconds += clock.Elapsed.TotalSeconds;
            trial.PeakMemoryBytes = Math.Max(trial.PeakMemoryBytes, PeakMemory.Read());
        }

        if (model is not null)
        {
            trial.Status = SweepTrialStatus.Completed;
            trial.Model = model;
            trial.Cost = MeasureCost(model, trial.Architecture);
            if (_options.OutputFolder is not null)
            {
                trial.ModelPath = Path.Combine(_options.OutputFolder, TrialFolder(trial.Index), "student.zip");
                model.Save(trial.ModelPath);
            }
        }

        return Reached(trial, epochs, lastAccuracy, store);
    }

    /// <summary>Marks <paramref name="trial"/> trained to <paramref name="epochs"/> with this validation accuracy, records and saves that; returns the accuracy (NaN for none).</summary>
    private static double Reached(SweepTrial trial, int epochs, double? accuracy, SweepStore? store)
    {
        trial.EpochsTrained = epochs;
        trial.ValidationAccuracy = accuracy;
        trial.Reason = null;
        store?.Record(trial, epochs, accuracy ?? double.NaN);
        store?.Save(null);
        return accuracy ?? double.NaN;
    }

    /// <summary>
    /// The manifest of the trial's newest checkpoint (null for none): how many epochs it holds and, when it ends a rung, the validation
    /// accuracy there (absent in checkpoints written before they carried it).
    /// </summary>
    private static CheckpointManifest? NewestCheckpoint(string directory, string phase)
    {
        string? newest = new CheckpointStore(directory, phase, keep: 1).List().FirstOrDefault();
        return newest is null ? null : CheckpointStore.ReadManifest(newest);
    }

    /// <summary>Sub-folder of the output folder where the teacher's pre-stages (SSKD's head, MGD's branches) are kept across processes.</summary>
    internal const string TeacherStagesFolder = "teacher-stages";

    /// <summary>
    /// The trial's cost; latency is timed once per architecture in a sweep and shared by its other trials (the weights do not change a
    /// dense network's speed, and one figure per network keeps timer noise out of the comparison between methods).
    /// </summary>
    private ModelCost MeasureCost(ImageClassifierTransformer model, string architecture)
    {
        if (!_latencies.TryGetValue(architecture, out var timed))
        {
            var cost = model.MeasureCost(_options.Cost);
            _latencies[architecture] = cost;
            return cost;
        }

        return model.MeasureCost(new CostMeasurementOptions { MeasureLatency = false }) with
        {
            LatencyMilliseconds = timed.LatencyMilliseconds,
            BatchLatencyMilliseconds = timed.BatchLatencyMilliseconds,
            LatencyBatchSize = timed.LatencyBatchSize,
            LatencyMeasuredBy = timed.LatencyMeasuredBy,
        };
    }

    internal static string TrialFolder(int index) => string.Create(CultureInfo.InvariantCulture, $"trial-{index:D3}");

    /// <summary>What a recorded trial must match to be reused on resume.</summary>
    private string Fingerprint(SweepTrial trial)
    {
        var o = trial.Options;
        return string.Create(CultureInfo.InvariantCulture,
            $"{trial.Index}|{o.GetType().Name}|{trial.Method}|{o.Architecture}|{o.Epochs}|{o.BatchSize}|{o.LearningRate:R}|{o.Seed ?? _options.Seed}|{OptionsFingerprint.Of(o)}");
    }

    private static string MethodName(object estimator) => ((IMethodNamed)estimator).MethodName;

    /// <summary>The method of options whose estimator could not be created ("HsakdOptions" gives "HSAKD"; plain StudentOptions "Baseline").</summary>
    private static string MethodName(StudentOptions options)
        => options.GetType() == typeof(StudentOptions) ? "Baseline" : options.GetType().Name.Replace("Options", "", StringComparison.Ordinal).ToUpperInvariant();
}

/// <summary>Peak resident memory of the process between <see cref="Reset"/> and <see cref="Read"/>.</summary>
internal static class PeakMemory
{
    /// <summary>On Linux, resets the kernel's high-water mark of resident memory (<c>/proc/self/clear_refs</c> with 5).</summary>
    public static void Reset()
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Bytes: Linux <c>VmHWM</c> since the last reset; elsewhere the process's peak working set.</summary>
    public static long Read()
    {
        if (OperatingSystem.IsLinux())
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }
}

internal static class ListShuffle
{
    /// <summary>Fisher-Yates with <paramref name="random"/>: the same seed, the same order.</summary>
    public static List<T> Shuffled<T>(this List<T> list, Random random)
    {
        var copy = list.ToList();
        for (int i = copy.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }

        return copy;
    }
}
