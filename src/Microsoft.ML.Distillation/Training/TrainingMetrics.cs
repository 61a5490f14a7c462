// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text;

namespace Microsoft.ML.Distillation;

/// <summary>What one training epoch achieved; passed to <see cref="TrainingOptions.MetricsCallback"/> and written to the ML.NET log.</summary>
public sealed class TrainingMetrics
{
    internal TrainingMetrics(string phase, int epoch, int epochCount, double loss, IReadOnlyDictionary<string, double> lossTerms,
        double learningRate, double trainAccuracy, double? validationAccuracy, TimeSpan elapsed,
        IReadOnlyDictionary<string, double>? diagnostics = null)
    {
        Diagnostics = diagnostics ?? new Dictionary<string, double>();
        Phase = phase;
        Epoch = epoch;
        EpochCount = epochCount;
        Loss = loss;
        LossTerms = lossTerms;
        LearningRate = learningRate;
        TrainAccuracy = trainAccuracy;
        ValidationAccuracy = validationAccuracy;
        Elapsed = elapsed;
    }

    /// <summary>What is being trained, e.g. "Teacher".</summary>
    public string Phase { get; }

    /// <summary>The epoch that just ended, 1-based.</summary>
    public int Epoch { get; }

    /// <summary>Epochs in this training.</summary>
    public int EpochCount { get; }

    /// <summary>Mean total loss over the epoch's samples.</summary>
    public double Loss { get; }

    /// <summary>Mean of each weighted loss term over the epoch's samples (e.g. "ce", "aux_ce"); they add up to <see cref="Loss"/>.</summary>
    public IReadOnlyDictionary<string, double> LossTerms { get; }

    /// <summary>
    /// Values the method reports at the end of the epoch that are not loss terms, e.g. <c>temperature</c>, the learned temperature of
    /// a curriculum-temperature (CTKD) run. Empty for most methods.
    /// </summary>
    public IReadOnlyDictionary<string, double> Diagnostics { get; }

    /// <summary>Learning rate used during the epoch.</summary>
    public double LearningRate { get; }

    /// <summary>Accuracy of the main head on the epoch's augmented, unrotated training images.</summary>
    public double TrainAccuracy { get; }

    /// <summary>Accuracy on the validation set, when one was given.</summary>
    public double? ValidationAccuracy { get; }

    /// <summary>Wall time since training started.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>One line, e.g. <c>Teacher epoch 3/10: loss 2.1043 (ce 0.8123, aux_ce 1.2920), lr 0.05, train acc 71.25%, val acc 70.10%, 00:01:12</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Phase} epoch {Epoch}/{EpochCount}: loss {Loss:F4}");
        if (LossTerms.Count > 0)
            sb.Append(" (").Append(string.Join(", ", LossTerms.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Key} {t.Value:F4}")))).Append(')');
        foreach (var (name, value) in Diagnostics)
            sb.Append(CultureInfo.InvariantCulture, $", {name} {value:G4}");
        sb.Append(CultureInfo.InvariantCulture, $", lr {LearningRate:G4}, train acc {TrainAccuracy:P2}");
        if (ValidationAccuracy is double v)
            sb.Append(CultureInfo.InvariantCulture, $", val acc {v:P2}");
        sb.Append(CultureInfo.InvariantCulture, $", {Elapsed:hh\\:mm\\:ss}");
        return sb.ToString();
    }
}
