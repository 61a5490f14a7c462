// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using Microsoft.ML.Distillation.Selection;

namespace Microsoft.ML.Distillation;

/// <summary>
/// The trials of a <see cref="StudentSweep"/>: the accuracy-versus-cost front, the best student under constraints, and the table as
/// Markdown, CSV and a plot. Disposing it disposes the trials' fitted students.
/// </summary>
public sealed class StudentSweepResult : IDisposable
{
    internal StudentSweepResult(IReadOnlyList<SweepTrial> trials) => Trials = trials;

    /// <summary>Every candidate, in the order given, with what it came to.</summary>
    public IReadOnlyList<SweepTrial> Trials { get; }

    /// <summary>The completed trials.</summary>
    public IEnumerable<SweepTrial> Completed => Trials.Where(t => t.Status == SweepTrialStatus.Completed && t.ValidationAccuracy is not null);

    /// <summary>
    /// The completed trials that no other beats on validation accuracy and on <paramref name="axis"/> at once (more accurate and no
    /// costlier, or cheaper and no less accurate), cheapest first. Every deployable choice is on it.
    /// </summary>
    /// <param name="axis">The cost to trade against; default latency at batch 1.</param>
    public IReadOnlyList<SweepTrial> ParetoFront(SweepCostAxis axis = SweepCostAxis.Latency)
        => Selection.ParetoFront.Of(Completed.Where(t => t.CostOn(axis) is not null).ToArray(), t => t.ValidationAccuracy!.Value, t => t.CostOn(axis)!.Value);

    /// <summary>
    /// The most accurate completed trial within <paramref name="constraints"/> (ties: fewer FLOPs per image, then fewer parameters,
    /// then the earlier trial; measured latency does not break ties, so the choice is the same on every run and every shard), or null
    /// when none fits. Its <see cref="SweepTrial.Model"/> is the student to deploy.
    /// </summary>
    /// <param name="constraints">Limits on latency, parameters, FLOPs or size; null for none.</param>
    public SweepTrial? Best(SweepConstraints? constraints = null)
        => Completed.Where(t => constraints is null || t.Cost is { } c && constraints.Admits(c))
            .OrderByDescending(t => t.ValidationAccuracy)
            .ThenBy(t => t.Cost?.FlopsPerImage ?? double.MaxValue)
            .ThenBy(t => t.Cost?.Parameters ?? long.MaxValue)
            .ThenBy(t => t.Index)
            .FirstOrDefault();

    /// <summary>The trials as a Markdown table; trials on the front (on <paramref name="axis"/>) are marked.</summary>
    public string ToMarkdown(SweepCostAxis axis = SweepCostAxis.Latency)
    {
        var front = ParetoFront(axis).ToHashSet();
        var sb = new StringBuilder();
        sb.AppendLine("| # | method | network | status | validation accuracy (%) | parameters | MFLOPs/image | model (KiB) | ms/image batch 1 | ms/image batch N | training (s) | peak memory (MiB) | front |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var t in Trials)
        {
            var c = t.Cost;
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {t.Index} | {t.Method} | {t.Architecture} | {Status(t)} | {Percent(t.ValidationAccuracy)} | {c?.Parameters.ToString("N0", CultureInfo.InvariantCulture) ?? ""} | {Number(c?.FlopsPerImage / 1e6, "F1")} | {Number(c?.ModelBytes / 1024.0, "F0")} | {Number(c?.LatencyMilliseconds, "F2")} | {Number(c?.BatchLatencyMilliseconds, "F3")} | {Number(t.TrainingSeconds > 0 ? t.TrainingSeconds : null, "F0")} | {Number(t.PeakMemoryBytes > 0 ? t.PeakMemoryBytes / 1048576.0 : null, "F0")} | {(front.Contains(t) ? "yes" : "")} |"));
        }

        return sb.ToString();
    }

    /// <summary>The trials as CSV (a header line, then one line per trial; invariant culture, fields quoted where needed).</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder();
        sb.AppendLine("index,method,architecture,status,reason,epochs_trained,validation_accuracy,parameters,flops_per_image,model_bytes,onnx_bytes,latency_ms_batch1,latency_ms_per_image_batchN,latency_batch_size,training_seconds,peak_memory_bytes");
        foreach (var t in Trials)
        {
            var c = t.Cost;
            string[] fields =
            [
                Invariant(t.Index), t.Method, t.Architecture, t.Status.ToString(), t.Reason ?? "", Invariant(t.EpochsTrained),
                Invariant(t.ValidationAccuracy), Invariant(c?.Parameters), Invariant(c?.FlopsPerImage), Invariant(c?.ModelBytes), Invariant(c?.OnnxBytes),
                Invariant(c?.LatencyMilliseconds), Invariant(c?.BatchLatencyMilliseconds), Invariant(c?.LatencyBatchSize),
                Invariant(t.TrainingSeconds), Invariant(t.PeakMemoryBytes),
            ];
            sb.AppendLine(string.Join(",", fields.Select(Quote)));
        }

        return sb.ToString();
    }

    /// <summary>Writes a PNG of validation accuracy against <paramref name="axis"/>, every completed trial a point, the front joined by a line.</summary>
    /// <param name="path">The PNG file to write (replaced atomically).</param>
    /// <param name="axis">The cost on the horizontal axis; default latency at batch 1.</param>
    /// <param name="width">Width in pixels. Default 900.</param>
    /// <param name="height">Height in pixels. Default 600.</param>
    public void SavePlot(string path, SweepCostAxis axis = SweepCostAxis.Latency, int width = 900, int height = 600)
        => SweepPlot.Save(this, path, axis, width, height);

    /// <summary>Disposes every trial's fitted student.</summary>
    public void Dispose()
    {
        foreach (var trial in Trials)
        {
            trial.Model?.Dispose();
            trial.Model = null;
        }
    }

    private static string Status(SweepTrial t) => t.Reason is null ? t.Status.ToString() : $"{t.Status}: {t.Reason.Replace("|", "/", StringComparison.Ordinal)}";

    private static string Percent(double? value) => value is double v ? (v * 100).ToString("F2", CultureInfo.InvariantCulture) : "";

    private static string Number(double? value, string format) => value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : "";

    private static string Invariant(IFormattable? value) => value?.ToString(null, CultureInfo.InvariantCulture) ?? "";

    private static string Invariant(double? value) => value is double v ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    private static string Quote(string field)
        => field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
