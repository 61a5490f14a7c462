// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>
/// One KD epoch of resnet8 from the shared teacher on 128 real images (batch 32, seed 3, 2 threads), with the options adjusted by
/// the caller, for comparing a precision setting against float32: the epoch's metrics, the log messages and the fitted student.
/// </summary>
internal static class OneEpochKd
{
    public static (TrainingMetrics Metrics, List<string> Log, ImageClassifierTransformer Model) Run(Action<KdOptions> adjust)
    {
        var ml = SharedTeacher.Ml;
        var log = new List<string>();
        void Collect(object? sender, LoggingEventArgs e)
        {
            lock (log)
                log.Add(e.Message);
        }
        ml.Log += Collect;
        try
        {
            var metrics = new List<TrainingMetrics>();
            var options = new KdOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 3, NumberOfThreads = 2, MetricsCallback = metrics.Add };
            adjust(options);
            var model = ml.Distillation.Kd(SharedTeacher.Teacher, options).Fit(SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 128)));
            return (metrics.Single(), log, model);
        }
        finally
        {
            ml.Log -= Collect;
        }
    }
}

/// <summary>Sets an environment variable for the process until disposed, then puts back what was there.</summary>
internal sealed class EnvironmentOverride : IDisposable
{
    private readonly string _name;
    private readonly string? _before;

    public EnvironmentOverride(string name, string? value)
    {
        _name = name;
        _before = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose() => Environment.SetEnvironmentVariable(_name, _before);
}
