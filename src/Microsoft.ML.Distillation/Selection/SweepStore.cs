// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Selection;

/// <summary>
/// A sweep's <c>sweep.json</c>: per trial its fingerprint, status, figures and the validation accuracy it reached at each epoch count
/// it was trained to, so that a resumed sweep reuses what was done (written atomically after every trial or rung). A shard writes
/// its own <c>sweep-shard-i-of-N.json</c> in the shared folder, so shards never write the same file; opening reads them all.
/// </summary>
internal sealed class SweepStore
{
    private const string FileName = "sweep.json";
    private readonly string _folder;
    private readonly string _fileName;
    private readonly string[] _fingerprints;
    private readonly Dictionary<int, TrialRecord> _records;

    private SweepStore(string folder, string fileName, string[] fingerprints, Dictionary<int, TrialRecord> records)
    {
        _folder = folder;
        _fileName = fileName;
        _fingerprints = fingerprints;
        _records = records;
    }

    /// <summary>What is saved of a trial.</summary>
    internal sealed class TrialRecord
    {
        public string Fingerprint { get; set; } = "";
        public string Status { get; set; } = "";
        public int EpochsTrained { get; set; }
        public double? ValidationAccuracy { get; set; }
        public double TrainingSeconds { get; set; }
        public long PeakMemoryBytes { get; set; }
        public string? ModelFile { get; set; }
        public ModelCost? Cost { get; set; }
        public Dictionary<string, double> AccuracyAtEpochs { get; set; } = new();
    }

    private sealed class Document
    {
        public int Version { get; set; } = 1;
        public List<TrialRecord> Trials { get; set; } = [];
    }

    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true };

    /// <summary>
    /// Opens (or starts) the store in <paramref name="folder"/>, reading <c>sweep.json</c> and every shard's file; refuses one written
    /// for other candidates. A trial found in several files keeps the record that got furthest.
    /// </summary>
    public static SweepStore Open(string folder, string[] fingerprints, SweepShard? shard = null)
    {
        Directory.CreateDirectory(folder);
        var records = new Dictionary<int, TrialRecord>();
        foreach (string path in Directory.EnumerateFiles(folder, "sweep*.json").Order(StringComparer.Ordinal))
        {
            var document = JsonSerializer.Deserialize<Document>(File.ReadAllText(path), s_json) ?? new Document();
            foreach (var record in document.Trials)
            {
                int index = int.Parse(record.Fingerprint.Split('|')[0], CultureInfo.InvariantCulture);
                if (index >= fingerprints.Length || record.Fingerprint != fingerprints[index])
                    throw new ArgumentException(
                        $"OutputFolder '{folder}' holds a sweep of other candidates ({Path.GetFileName(path)}: trial {index} was '{record.Fingerprint}', now " +
                        $"'{(index < fingerprints.Length ? fingerprints[index] : "none")}'). Use another OutputFolder, or the candidates of that sweep.",
                        nameof(StudentSweepOptions.OutputFolder));
                if (!records.TryGetValue(index, out var known) || Progress(record) > Progress(known))
                    records[index] = record;
            }
        }

        string fileName = shard is SweepShard part
            ? string.Create(CultureInfo.InvariantCulture, $"sweep-shard-{part.Index}-of-{part.Count}.json")
            : FileName;
        return new SweepStore(folder, fileName, fingerprints, records);
    }

    /// <summary>How far a record got: epochs trained, then whether its student was saved.</summary>
    private static int Progress(TrialRecord record) => 2 * record.EpochsTrained + (record.ModelFile is null ? 0 : 1);

    /// <summary>
    /// When the trial was already trained to <paramref name="epochs"/>, fills it from the record (loading the saved student when it
    /// completed) and returns the accuracy it had there; null otherwise.
    /// </summary>
    public double? Restore(SweepTrial trial, int epochs, IHostEnvironment env)
    {
        if (!_records.TryGetValue(trial.Index, out var record) || !record.AccuracyAtEpochs.TryGetValue(Key(epochs), out double accuracy))
            return null;
        bool completed = epochs == trial.Options.Epochs;
        if (completed && (record.ModelFile is null || !File.Exists(Path.Combine(_folder, record.ModelFile))))
            return null;

        trial.EpochsTrained = epochs;
        trial.ValidationAccuracy = double.IsNaN(accuracy) ? null : accuracy;
        trial.TrainingSeconds = record.TrainingSeconds;
        trial.PeakMemoryBytes = record.PeakMemoryBytes;
        trial.Reason = null;
        if (completed)
        {
            trial.ModelPath = Path.Combine(_folder, record.ModelFile!);
            trial.Model = new ImageClassifierTransformer(env, ModelFile.Load(trial.ModelPath, ComputeDevice.Auto));
            trial.Cost = record.Cost;
            trial.Status = SweepTrialStatus.Completed;
        }

        return accuracy;
    }

    /// <summary>Records what the trial reached at <paramref name="epochs"/>.</summary>
    public void Record(SweepTrial trial, int epochs, double accuracy)
    {
        if (!_records.TryGetValue(trial.Index, out var record))
            _records[trial.Index] = record = new TrialRecord { Fingerprint = _fingerprints[trial.Index] };
        record.AccuracyAtEpochs[Key(epochs)] = accuracy;
        record.EpochsTrained = trial.EpochsTrained;
        record.ValidationAccuracy = trial.ValidationAccuracy;
        record.TrainingSeconds = trial.TrainingSeconds;
        record.PeakMemoryBytes = trial.PeakMemoryBytes;
        record.Cost = trial.Cost;
        record.ModelFile = trial.ModelPath is null ? null : Path.GetRelativePath(_folder, trial.ModelPath);
    }

    /// <summary>Writes the file atomically; with <paramref name="trials"/>, records their final status too.</summary>
    public void Save(IReadOnlyList<SweepTrial>? trials)
    {
        if (trials is not null)
        {
            foreach (var trial in trials)
            {
                if (_records.TryGetValue(trial.Index, out var record))
                    record.Status = trial.Status.ToString();
            }
        }

        var document = new Document { Trials = _records.OrderBy(r => r.Key).Select(r => r.Value).ToList() };
        AtomicFile.Write(Path.Combine(_folder, _fileName), stream => JsonSerializer.Serialize(stream, document, s_json));
    }

    private static string Key(int epochs) => epochs.ToString(CultureInfo.InvariantCulture);
}
