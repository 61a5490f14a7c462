// Licensed under the MIT license. See LICENSE in the repository root.

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>
/// The sweep benchmark of docs/benchmarks.md: one teacher file, candidates = architectures x methods on the fidelity protocol's data
/// (Fashion-MNIST from a folder, the training file's first rows for training, the test file's first rows for validation), run twice:
/// as one <see cref="StudentSweep"/> (the teacher loaded once, SSKD's head trained once for every SSKD student), and as the loop a user
/// writes by hand (each candidate distilled from the teacher's path: a fresh teacher each time, so each SSKD student trains its own
/// head). Both measure every student's cost (the sweep times latency once per architecture, the loop for every student, as a loop
/// calling MeasureCost does). Prints both wall times, checks that the two give the same validation accuracies to within one image
/// (training is deterministic; the two evaluate with different batching), and writes the sweep's table and plot.
/// </summary>
/// <remarks>
/// <c>dotnet run -c Release --project src/Samples -- sweep-benchmark --data /usr/share/datasets/fashion-mnist --teacher-model
/// teacher.zip [--architectures resnet8,resnet14,wrn16_1] [--methods baseline,kd,hsakd,sskd] [--epochs 1] [--sskd-head-epochs 1]
/// [--train-rows 10000] [--validation-rows 2000] [--out sweep-benchmark]</c>. The teacher file is the fidelity benchmark's
/// (<c>fidelity --teacher-model FILE</c> trains and saves it when missing).
/// </remarks>
public static class SweepBenchmark
{
    /// <summary>Parses the arguments (after "sweep-benchmark") and runs it.</summary>
    public static int Run(string[] args)
    {
        var data = new Option<string>("--data") { Description = "Folder with Fashion-MNIST's idx files (Debian: /usr/share/datasets/fashion-mnist).", Required = true };
        var teacherModel = new Option<string>("--teacher-model") { Description = "The teacher, saved with ImageClassifierTransformer.Save (the fidelity benchmark's file).", Required = true };
        var architectures = new Option<string>("--architectures") { Description = "Student networks, comma-separated.", DefaultValueFactory = _ => "resnet8,resnet14,wrn16_1" };
        var methods = new Option<string>("--methods") { Description = "Methods, comma-separated: baseline, kd, hsakd, sskd.", DefaultValueFactory = _ => "baseline,kd,hsakd,sskd" };
        var epochs = new Option<int>("--epochs") { Description = "Epochs of every candidate.", DefaultValueFactory = _ => 1 };
        var headEpochs = new Option<int>("--sskd-head-epochs") { Description = "Epochs of SSKD's teacher-head stage.", DefaultValueFactory = _ => 1 };
        var trainRows = new Option<int>("--train-rows") { Description = "Training images (the training file's first rows).", DefaultValueFactory = _ => 10000 };
        var validationRows = new Option<int>("--validation-rows") { Description = "Validation images (the test file's first rows).", DefaultValueFactory = _ => 2000 };
        var batchSize = new Option<int>("--batch-size") { Description = "Batch size of every candidate.", DefaultValueFactory = _ => 64 };
        var learningRate = new Option<double>("--learning-rate") { Description = "Initial learning rate of every candidate.", DefaultValueFactory = _ => 0.05 };
        var output = new Option<string>("--out") { Description = "Folder for the sweep's table (sweep.md, sweep.csv) and plot (sweep.png).", DefaultValueFactory = _ => "sweep-benchmark" };
        var command = new RootCommand("Sweep benchmark: one shared-teacher sweep against the hand-written loop, same candidates.")
        {
            data, teacherModel, architectures, methods, epochs, headEpochs, trainRows, validationRows, batchSize, learningRate, output,
        };
        command.SetAction(result => Run(
            result.GetValue(data)!, result.GetValue(teacherModel)!, Split(result.GetValue(architectures)!), Split(result.GetValue(methods)!),
            result.GetValue(epochs), result.GetValue(headEpochs), result.GetValue(trainRows), result.GetValue(validationRows),
            result.GetValue(batchSize), result.GetValue(learningRate), result.GetValue(output)!, string.Join(' ', args)));
        return command.Parse(args).Invoke();
    }

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Runs the benchmark; see the class remarks.</summary>
    public static int Run(string dataFolder, string teacherPath, IReadOnlyList<string> architectures, IReadOnlyList<string> methods,
        int epochs, int headEpochs, int trainRows, int validationRows, int batchSize, double learningRate, string outputFolder, string arguments)
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = FashionMnist.LoadKeyedByValue(ml, dataFolder, trainRows, validationRows);

        StudentOptions Candidate(string method, string architecture)
        {
            StudentOptions options = method switch
            {
                "baseline" => new StudentOptions(),
                "kd" => new KdOptions(),
                "hsakd" => new HsakdOptions(),
                "sskd" => new SskdOptions { TeacherHeadEpochs = headEpochs },
                _ => throw new ArgumentException($"--methods: unknown method '{method}'; known: baseline, kd, hsakd, sskd."),
            };
            options.Architecture = architecture;
            options.Epochs = epochs;
            options.BatchSize = batchSize;
            options.LearningRate = learningRate;
            options.Seed = 1;
            return options;
        }

        IList<StudentOptions> Candidates() => [.. architectures.SelectMany(a => methods.Select(m => Candidate(m, a)))];

        Console.WriteLine($"CPU: {CpuModel()}; {Environment.ProcessorCount} threads; {DateTime.UtcNow:yyyy-MM-dd}.");
        Console.WriteLine($"Fashion-MNIST ({dataFolder}): {trainRows} training images, {validationRows} validation images (the test file's first); teacher {teacherPath}.");
        Console.WriteLine($"dotnet run -c Release --project src/Samples -- sweep-benchmark {arguments}");

        // 1. The sweep: one teacher, its pre-stages once.
        int heads = 0;
        void CountHeads(TrainingMetrics m)
        {
            if (m.Phase == "SSKD teacher head" && m.Epoch == 1)
                heads++;
        }

        var candidates = Candidates();
        foreach (var c in candidates)
            c.MetricsCallback = CountHeads;
        var clock = Stopwatch.StartNew();
        using var sweep = ml.Distillation.CreateStudentSweep(teacherPath, new StudentSweepOptions
        {
            Candidates = candidates,
            ValidationSet = validation,
            Cost = new CostMeasurementOptions { BatchSize = 32 },
            ProgressCallback = p => Console.WriteLine(FormattableString.Invariant(
                $"  sweep: trial {p.Trial + 1}/{p.TrialCount} {p.Method} {p.Architecture}: epoch {p.Epoch}/{p.EpochCount}, {p.Elapsed.TotalSeconds:F0} s")),
        });
        using var result = sweep.Run(train);
        double sweepSeconds = clock.Elapsed.TotalSeconds;
        int sweepHeads = heads;

        // 2. The loop by hand: each candidate from the teacher's path, as Distill(teacherPath) users write it.
        heads = 0;
        var looped = new List<(string Method, string Architecture, double Accuracy, double Seconds)>();
        clock.Restart();
        foreach (var options in Candidates())
        {
            options.MetricsCallback = CountHeads;
            var trialClock = Stopwatch.StartNew();
            using var teacher = ml.Distillation.LoadModel(teacherPath, ComputeDevice.Cpu);
            using var student = ml.Distillation.Distill(teacher, options).Fit(train);
            double accuracy = ml.MulticlassClassification.Evaluate(student.Transform(validation)).MicroAccuracy;
            _ = student.MeasureCost(new CostMeasurementOptions { BatchSize = 32 }); // the sweep measures every trial too
            looped.Add((options.GetType().Name, options.Architecture, accuracy, trialClock.Elapsed.TotalSeconds));
            Console.WriteLine(FormattableString.Invariant($"  loop: {options.GetType().Name} {options.Architecture}: {accuracy:P2}, {trialClock.Elapsed.TotalSeconds:F0} s"));
        }

        double loopSeconds = clock.Elapsed.TotalSeconds;
        int loopHeads = heads;

        Directory.CreateDirectory(outputFolder);
        File.WriteAllText(Path.Combine(outputFolder, "sweep.md"), result.ToMarkdown());
        File.WriteAllText(Path.Combine(outputFolder, "sweep.csv"), result.ToCsv());
        result.SavePlot(Path.Combine(outputFolder, "sweep.png"));

        Console.WriteLine();
        Console.WriteLine(result.ToMarkdown());
        Console.WriteLine("Pareto front (validation accuracy up, latency at batch 1 down): " + string.Join("; ",
            result.ParetoFront().Select(t => FormattableString.Invariant($"{t.Method} {t.Architecture} {t.ValidationAccuracy:P2} {t.Cost!.LatencyMilliseconds:F2} ms"))));
        int mismatches = 0;
        for (int i = 0; i < looped.Count; i++)
        {
            var trial = result.Trials[i];
            // Within one image: the sweep's accuracy is the engine's validation pass, the loop's ML.NET's Evaluate (other batching).
            if (trial.ValidationAccuracy is not double a || Math.Abs(a - looped[i].Accuracy) > 1.5 / validationRows)
            {
                mismatches++;
                Console.WriteLine(FormattableString.Invariant($"MISMATCH trial {i} {trial.Method} {trial.Architecture}: sweep {trial.ValidationAccuracy:P2}, loop {looped[i].Accuracy:P2}"));
            }
        }

        Console.WriteLine(FormattableString.Invariant(
            $"Sweep (teacher loaded once, SSKD head trained {sweepHeads}x): {sweepSeconds:F0} s. Loop by hand (teacher loaded per candidate, SSKD head trained {loopHeads}x): {loopSeconds:F0} s. Saved: {loopSeconds - sweepSeconds:F0} s ({(loopSeconds - sweepSeconds) / loopSeconds:P1}). Same validation accuracies: {(mismatches == 0 ? "yes" : $"no, {mismatches} differ")}."));
        Console.WriteLine($"Table, CSV and plot: {outputFolder}/sweep.md, sweep.csv, sweep.png");
        return mismatches == 0 ? 0 : 1;
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
