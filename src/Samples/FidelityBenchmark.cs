// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>
/// The fidelity benchmark: one teacher, then the no-teacher baseline, vanilla KD and HSAKD students of one architecture,
/// each over several seeds, on Fashion-MNIST; prints a markdown table of test accuracy (mean ± std) and wall time.
/// </summary>
internal static class FidelityBenchmark
{
    public static int Run(string[] args)
    {
        var o = new Dictionary<string, string>
        {
            ["--data"] = FashionMnist.DebianFolder,
            ["--train-rows"] = "10000",
            ["--test-rows"] = "10000",
            ["--teacher"] = "wrn16_2",
            ["--student"] = "resnet8",
            ["--teacher-epochs"] = "15",
            ["--student-epochs"] = "15",
            ["--seeds"] = "1,2,3",
            ["--batch-size"] = "64",
            ["--learning-rate"] = "0.05",
        };
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (!o.ContainsKey(args[i]))
            {
                Console.Error.WriteLine($"Unknown option {args[i]}. Options: {string.Join(", ", o.Keys)}");
                return 2;
            }
            o[args[i]] = args[i + 1];
        }
        int Int(string k) => int.Parse(o[k], CultureInfo.InvariantCulture);
        double lr = double.Parse(o["--learning-rate"], CultureInfo.InvariantCulture);
        int[] seeds = o["--seeds"].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        string command = "dotnet run -c Release --project src/Samples -- fidelity " + string.Join(" ", o.Select(kv => $"{kv.Key} {kv.Value}"));

        var ml = new MLContext(seed: seeds[0]);
        var trainRaw = FashionMnist.Load(ml, o["--data"], "train", Int("--train-rows"));
        var testRaw = FashionMnist.Load(ml, o["--data"], "t10k", Int("--test-rows"));
        var keys = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(trainRaw);
        var train = ml.Data.Cache(keys.Transform(trainRaw));
        var test = ml.Data.Cache(keys.Transform(testRaw));
        Console.WriteLine($"Fashion-MNIST ({o["--data"]}): {Int("--train-rows")} train, {Int("--test-rows")} test; threads {Environment.ProcessorCount}.");
        Console.WriteLine(command);

        var rows = new List<(string Method, string Arch, int Seed, double Accuracy, double Seconds)>();
        T Time<T>(Func<T> f, out double seconds)
        {
            var sw = Stopwatch.StartNew();
            var r = f();
            seconds = sw.Elapsed.TotalSeconds;
            return r;
        }
        double Accuracy(ITransformer model) => ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        void Log(TrainingMetrics m) => Console.WriteLine("    " + m);
        T Common<T>(T options, int epochs, int seed) where T : DistillationTrainerOptions
        {
            options.Epochs = epochs;
            options.BatchSize = Int("--batch-size");
            options.LearningRate = lr;
            options.Seed = seed;
            options.MetricsCallback = Log;
            return options;
        }

        Console.WriteLine($"Teacher {o["--teacher"]}, seed {seeds[0]}:");
        using var teacher = Time(() => ml.Distillation.Teacher(Common(new TeacherOptions { Architecture = o["--teacher"] }, Int("--teacher-epochs"), seeds[0])).Fit(train), out double teacherSeconds);
        double teacherAccuracy = Accuracy(teacher);
        rows.Add(("Teacher (HSAKD aux, joint)", o["--teacher"], seeds[0], teacherAccuracy, teacherSeconds));
        Console.WriteLine($"  test accuracy {teacherAccuracy:P2}, {teacherSeconds:F0} s");

        foreach (int seed in seeds)
        {
            string student = o["--student"];
            int epochs = Int("--student-epochs");
            var runs = new (string Name, Func<ImageClassifierTransformer> Fit)[]
            {
                ("Baseline (CE only)", () => ml.Distillation.Baseline(Common(new StudentOptions { Architecture = student }, epochs, seed)).Fit(train)),
                ("KD (T=4, 0.1 CE + 0.9 KD)", () => ml.Distillation.Kd(teacher, Common(new KdOptions { Architecture = student }, epochs, seed)).Fit(train)),
                ("HSAKD (T=3)", () => ml.Distillation.Hsakd(teacher, Common(new HsakdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            };
            foreach (var (name, fit) in runs)
            {
                Console.WriteLine($"{name} {student}, seed {seed}:");
                using var model = Time(fit, out double seconds);
                double accuracy = Accuracy(model);
                rows.Add((name, student, seed, accuracy, seconds));
                Console.WriteLine($"  test accuracy {accuracy:P2}, {seconds:F0} s");
            }
        }

        Console.WriteLine();
        Console.WriteLine("| method | network | runs | test accuracy, mean ± std (%) | per-run accuracies (%) | wall time per run (s) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var group in rows.GroupBy(r => (r.Method, r.Arch)))
        {
            var acc = group.Select(r => r.Accuracy * 100).ToArray();
            double mean = acc.Average();
            double std = acc.Length > 1 ? Math.Sqrt(acc.Sum(a => (a - mean) * (a - mean)) / (acc.Length - 1)) : 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.Method} | {group.Key.Arch} | {acc.Length} | {mean:F2} ± {std:F2} | {string.Join(", ", acc.Select(a => a.ToString("F2", CultureInfo.InvariantCulture)))} | {group.Average(r => r.Seconds):F0} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"Command: {command}");
        return 0;
    }
}
