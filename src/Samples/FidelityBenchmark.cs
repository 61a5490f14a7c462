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
            ["--methods"] = "baseline,kd,hsakd",
            ["--teacher-model"] = "",
            ["--sskd-head-epochs"] = "8",
            ["--mgd-branch-epochs"] = "8",
            ["--crd-negatives"] = "16384",
            ["--precision"] = "Float32",
            ["--teacher-precision"] = "Float32",
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
        if (!Enum.TryParse(o["--precision"], ignoreCase: true, out TrainingPrecision precision) || !Enum.IsDefined(precision))
        {
            Console.Error.WriteLine($"--precision {o["--precision"]}: expected {string.Join(" or ", Enum.GetNames<TrainingPrecision>())} (the students' precision; the teacher trains in float32).");
            return 2;
        }
        if (!Enum.TryParse(o["--teacher-precision"], ignoreCase: true, out TeacherPrecision teacherPrecision) || !Enum.IsDefined(teacherPrecision))
        {
            Console.Error.WriteLine($"--teacher-precision {o["--teacher-precision"]}: expected {string.Join(" or ", Enum.GetNames<TeacherPrecision>())} (the frozen teacher's forward in the students' trainings).");
            return 2;
        }
        double lr = double.Parse(o["--learning-rate"], CultureInfo.InvariantCulture);
        int[] seeds = o["--seeds"].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        string command = "dotnet run -c Release --project src/Samples -- fidelity " + string.Join(" ", o.Select(kv => $"{kv.Key} {kv.Value}"));

        var methods = o["--methods"].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var ml = new MLContext(seed: seeds[0]);
        var (train, test) = FashionMnist.LoadKeyedByValue(ml, o["--data"], Int("--train-rows"), Int("--test-rows"));
        string student = o["--student"];
        int epochs = Int("--student-epochs");

        // Every method this benchmark runs: key for --methods, row name, and the fit of one seed.
        (string Key, string Name, Func<ImageClassifierTransformer> Fit)[] Runs(ImageClassifierTransformer teacher, int seed) =>
        [
            ("baseline", "Baseline (CE only)", () => ml.Distillation.Baseline(Common(new StudentOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("kd", "KD (T=4, 0.1 CE + 0.9 KD)", () => ml.Distillation.Kd(teacher, Common(new KdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("hsakd", "HSAKD (T=3)", () => ml.Distillation.Hsakd(teacher, Common(new HsakdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("sskd", $"SSKD (head {Int("--sskd-head-epochs")} ep.)", () => ml.Distillation.Sskd(teacher, Common(new SskdOptions { Architecture = student, TeacherHeadEpochs = Int("--sskd-head-epochs") }, epochs, seed)).Fit(train)),
            ("dkd", "DKD (T=4, α=1, β=8)", () => ml.Distillation.Dkd(teacher, Common(new DkdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("kd-ctkd", "KD + CTKD (global τ)", () => ml.Distillation.Kd(teacher, Common(new KdOptions { Architecture = student, CurriculumTemperature = new() }, epochs, seed)).Fit(train)),
            ("hsakd-ctkd", "HSAKD + CTKD (global τ)", () => ml.Distillation.Hsakd(teacher, Common(new HsakdOptions { Architecture = student, CurriculumTemperature = new() }, epochs, seed)).Fit(train)),
            ("mgd", $"MGD + KD (stable, branches {Int("--mgd-branch-epochs")} ep.)", () => ml.Distillation.Mgd(teacher, Common(new MgdOptions { Architecture = student, TeacherBranchEpochs = Int("--mgd-branch-epochs") }, epochs, seed)).Fit(train)),
            ("sp", "SP (β=3000)", () => ml.Distillation.Sp(teacher, Common(new SpOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("at", "AT (β=1000)", () => ml.Distillation.At(teacher, Common(new AtOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("pkt", "PKT (β=30000)", () => ml.Distillation.Pkt(teacher, Common(new PktOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("rkd", "RKD (25 distance, 50 angle)", () => ml.Distillation.Rkd(teacher, Common(new RkdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("fitnet", "FitNet (β=100, middle stage)", () => ml.Distillation.FitNet(teacher, Common(new FitNetOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("simreg", "SimReg (CE + 1 · regression)", () => ml.Distillation.SimReg(teacher, Common(new SimRegOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("crd", $"CRD (β=0.8, K={Int("--crd-negatives")})", () => ml.Distillation.Crd(teacher, Common(new CrdOptions { Architecture = student, NegativeCount = Int("--crd-negatives") }, epochs, seed)).Fit(train)),
            ("crd-kd", $"CRD + KD (β=0.8, α=1, K={Int("--crd-negatives")})", () => ml.Distillation.Crd(teacher, Common(new CrdOptions { Architecture = student, DistillationWeight = 1, NegativeCount = Int("--crd-negatives") }, epochs, seed)).Fit(train)),
            ("zipfls", "Zipf's LS (λ=1, no teacher)", () => ml.Distillation.ZipfLabelSmoothing(Common(new ZipfLsOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("mixskd", "MixSKD (α=0.4, T=3, no teacher)", () => ml.Distillation.MixSkd(Common(new MixSkdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("msfd", "MSFD (our reading; last stage, grids 1/2/4)", () => ml.Distillation.Msfd(teacher, Common(new MsfdOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("mgd-crd", $"MGD + CRD (stable, branches {Int("--mgd-branch-epochs")} ep.; CE 1, KD 1, CRD 0.8)", () => ml.Distillation.Mgd(teacher, Common(new MgdOptions { Architecture = student, TeacherBranchEpochs = Int("--mgd-branch-epochs"), CrossEntropyWeight = 1, DistillationWeight = 1, Contrast = new CrdOptions() }, epochs, seed)).Fit(train)),
            // Online: two peers of the student's architecture trained together; the row is peer 0 (Fit's choice without a validation
            // set: the test set must not pick the peer). The wall time covers both peers.
            ("hsakd-online", "HSAKD online (2 peers, T=3, no teacher; peer 0)", () => ml.Distillation.Online(Common(new OnlineOptions { Architecture = student }, epochs, seed)).Fit(train)),
            ("mcl", "MCL (2 peers, in-batch, no teacher; peer 0)", () => ml.Distillation.Online(Common(new OnlineOptions { Method = OnlineMethod.Mcl, Architecture = student }, epochs, seed)).Fit(train)),
            ("ffl", "FFL (2 peers + fusion module, no teacher; peer 0)", () => ml.Distillation.Online(Common(new OnlineOptions { Method = OnlineMethod.Ffl, Architecture = student }, epochs, seed)).Fit(train)),
        ];

        string[] knownMethods = [.. Runs(null!, 0).Select(r => r.Key)];
        if (methods.FirstOrDefault(m => !knownMethods.Contains(m, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            Console.Error.WriteLine($"Unknown method '{unknown}' in --methods. Known: {string.Join(", ", knownMethods)}.");
            return 2;
        }

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
        T Common<T>(T options, int epochs, int seed) where T : TrainingOptions
        {
            options.Epochs = epochs;
            options.BatchSize = Int("--batch-size");
            options.LearningRate = lr;
            options.Seed = seed;
            options.MetricsCallback = Log;
            if (options is StudentOptions studentOptions)
            {
                options.Precision = precision;
                studentOptions.TeacherPrecision = teacherPrecision;
            }
            return options;
        }

        // --teacher-model PATH: load the teacher from PATH when the file exists, else train it and save it there, so that several
        // invocations (other students, other methods) share one teacher. Training is deterministic, so a retrained one is identical.
        string teacherPath = o["--teacher-model"];
        ImageClassifierTransformer teacher;
        double teacherSeconds;
        if (teacherPath.Length > 0 && File.Exists(teacherPath))
        {
            Console.WriteLine($"Teacher loaded from {teacherPath}:");
            teacher = Time(() => ml.Distillation.LoadModel(teacherPath), out teacherSeconds);
            teacherSeconds = double.NaN;
        }
        else
        {
            Console.WriteLine($"Teacher {o["--teacher"]}, seed {seeds[0]}:");
            teacher = Time(() => ml.Distillation.Teacher(Common(new TeacherOptions { Architecture = o["--teacher"] }, Int("--teacher-epochs"), seeds[0])).Fit(train), out teacherSeconds);
            if (teacherPath.Length > 0)
                teacher.Save(teacherPath);
        }
        using var teacherLease = teacher;
        double teacherAccuracy = Accuracy(teacher);
        rows.Add(("Teacher (HSAKD aux, joint)", teacher.Architecture, seeds[0], teacherAccuracy, teacherSeconds));
        Console.WriteLine($"  test accuracy {teacherAccuracy:P2}, {Seconds(teacherSeconds)}");

        foreach (int seed in seeds)
        {
            foreach (var (key, name, fit) in Runs(teacher, seed).Where(r => methods.Contains(r.Key)))
            {
                Console.WriteLine($"{name} {student}, seed {seed}:");
                using var model = Time(fit, out double seconds);
                double accuracy = Accuracy(model);
                rows.Add((name, student, seed, accuracy, seconds));
                Console.WriteLine($"  test accuracy {accuracy:P2}, {Seconds(seconds)}");
            }
        }

        Console.WriteLine();
        Console.WriteLine("| method | network | runs | test accuracy, mean ± std (%) | per-run accuracies (%) | wall time per run (s) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var group in rows.GroupBy(r => (r.Method, r.Arch)))
        {
            var acc = group.Select(r => r.Accuracy * 100).ToArray();
            double seconds = group.Average(r => r.Seconds);
            double mean = acc.Average();
            double std = acc.Length > 1 ? Math.Sqrt(acc.Sum(a => (a - mean) * (a - mean)) / (acc.Length - 1)) : 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.Method} | {group.Key.Arch} | {acc.Length} | {mean:F2} ± {std:F2} | {string.Join(", ", acc.Select(a => a.ToString("F2", CultureInfo.InvariantCulture)))} | {(double.IsNaN(seconds) ? "loaded" : seconds.ToString("F0", CultureInfo.InvariantCulture))} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"Command: {command}");
        return 0;
    }

    // A loaded teacher has no training time (NaN).
    private static string Seconds(double seconds) => double.IsNaN(seconds) ? "loaded, training time not known" : $"{seconds:F0} s";
}
