// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Online;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Methods.TeacherPretraining;
using Microsoft.ML.Distillation.Methods.Hsakd;
using Microsoft.ML.Distillation.Methods.Baseline;
using Microsoft.ML.Distillation.Methods.Crd;
using Microsoft.ML.Distillation.Methods.Kd;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>Command-line options of the benchmark.</summary>
internal sealed class BenchmarkOptions
{
    public int Steps { get; private set; } = 20;
    public int Warmup { get; private set; } = 3;
    public int BatchSize { get; private set; } = 64;
    public int BatchSize224 { get; private set; } = 8;
    public int Threads { get; private set; } = Environment.ProcessorCount;
    public string? WritePath { get; private set; }
    public string? Scenario { get; private set; }
    public bool ReleaseMemory { get; private set; }
    public bool FoldTeacher { get; private set; }
    public bool ChannelsLast { get; private set; }
    public bool TeacherBFloat16 { get; private set; }
    public bool StudentBFloat16Mixed { get; private set; }

    public static BenchmarkOptions? Parse(string[] args)
    {
        var o = new BenchmarkOptions();
        int i = args.Length > 0 && args[0] == "throughput" ? 1 : 0;
        for (; i + 1 < args.Length; i += 2)
        {
            string v = args[i + 1];
            switch (args[i])
            {
                case "--steps": o.Steps = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--warmup": o.Warmup = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--batch-size": o.BatchSize = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--batch-size-224": o.BatchSize224 = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--threads": o.Threads = int.Parse(v, CultureInfo.InvariantCulture); break;
                case "--write": o.WritePath = v; break;
                case "--scenario": o.Scenario = v; break;
                case "--release-memory": o.ReleaseMemory = bool.Parse(v); break;
                case "--fold-teacher": o.FoldTeacher = bool.Parse(v); break;
                case "--channels-last": o.ChannelsLast = bool.Parse(v); break;
                case "--teacher-bf16": o.TeacherBFloat16 = bool.Parse(v); break;
                case "--bf16-mixed": o.StudentBFloat16Mixed = bool.Parse(v); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; options: --steps --warmup --batch-size --batch-size-224 --threads --release-memory --fold-teacher --channels-last --teacher-bf16 --bf16-mixed --write --scenario");
                    return null;
            }
        }
        return o;
    }

    public string Describe() => $"--steps {Steps} --warmup {Warmup} --batch-size {BatchSize} --batch-size-224 {BatchSize224} --threads {Threads}"
        + (ReleaseMemory ? " --release-memory true" : "") + (FoldTeacher ? " --fold-teacher true" : "")
        + (ChannelsLast ? " --channels-last true" : "") + (TeacherBFloat16 ? " --teacher-bf16 true" : "") + (StudentBFloat16Mixed ? " --bf16-mixed true" : "");

    /// <summary>A copy in one precision and layout: bfloat16 sets both the teacher's bfloat16 forward and the student's mixed precision.</summary>
    public BenchmarkOptions With(bool bfloat16, bool channelsLast)
    {
        var copy = (BenchmarkOptions)MemberwiseClone();
        copy.TeacherBFloat16 = copy.StudentBFloat16Mixed = bfloat16;
        copy.ChannelsLast = channelsLast;
        return copy;
    }

    public IEnumerable<string> ChildArguments(string scenario)
        => new[] { "throughput", "--steps", Steps.ToString(CultureInfo.InvariantCulture), "--warmup", Warmup.ToString(CultureInfo.InvariantCulture),
            "--batch-size", BatchSize.ToString(CultureInfo.InvariantCulture), "--batch-size-224", BatchSize224.ToString(CultureInfo.InvariantCulture),
            "--threads", Threads.ToString(CultureInfo.InvariantCulture), "--release-memory", ReleaseMemory.ToString(), "--fold-teacher", FoldTeacher.ToString(), "--channels-last", ChannelsLast.ToString(), "--teacher-bf16", TeacherBFloat16.ToString(),
            "--bf16-mixed", StudentBFloat16Mixed.ToString(), "--scenario", scenario };
}

/// <summary>What one scenario measured.</summary>
public sealed class ScenarioResult
{
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public double MedianImagesPerSecond { get; set; }
    public double P10ImagesPerSecond { get; set; }
    public double P90ImagesPerSecond { get; set; }
    public double GflopPerStep { get; set; }
    public double AchievedGflops { get; set; }
    public double DataShare { get; set; }
    public double OutsideShare { get; set; }
    public double PeakRssGiB { get; set; }
    public double? RssAfterEpoch1GiB { get; set; }
    public double? RssAfterEpoch5GiB { get; set; }
    public double? GemmGflops { get; set; }
    public string? GemmKernel { get; set; }
    public int Steps { get; set; }
    public Dictionary<string, double>? Scoring { get; set; }

    public string Summary()
        => GemmGflops is double ? Description
            : Scoring is not null ? string.Join("; ", Scoring.Select(kv => $"{kv.Key}: {kv.Value:F0} img/s"))
            : RssAfterEpoch1GiB is double r1 ? $"RSS after epoch 1 {r1:F3} GiB, after epoch 5 {RssAfterEpoch5GiB:F3} GiB"
            : $"{MedianImagesPerSecond:F1} img/s (p10 {P10ImagesPerSecond:F1}, p90 {P90ImagesPerSecond:F1}), {AchievedGflops:F0} GFLOP/s, data {DataShare:P1}, outside the networks {OutsideShare:P1}, peak RSS {PeakRssGiB:F2} GiB";
}

/// <summary>The measured scenarios. Training steps run through the real engine on synthetic 3x32x32 data with 100 classes.</summary>
internal static class Scenarios
{
    public static readonly string[] Names =
    {
        "gemm", "student-wrn16_2", "teacher-wrn40_2", "hsakd-wrn40_2-wrn16_2", "hsakd-resnet32x4-resnet8x4", "teacher-forward-wrn40_2", "teacher-forward-wrn40_2-unfolded", "teacher-forward-wrn40_2-bf16",
        "teacher-forward-wrn40_2-channels-last", "online-hsakd-2x-wrn16_2", "online-mcl-2x-wrn16_2",
        ImageNetScenario.Name, "inference-wrn16_2", "scoring-wrn16_2", "rss-growth",
    };

    /// <summary>Set BENCH_TRACE_RSS=1 to print RSS after every step and epoch (memory investigations).</summary>
    private static readonly bool TraceRss = Environment.GetEnvironmentVariable("BENCH_TRACE_RSS") == "1";

    public static ScenarioResult Run(string name, BenchmarkOptions o)
    {
        torch.set_num_threads(o.Threads);
        torch.random.manual_seed(1);
        return name switch
        {
            "gemm" => Gemm(),
            "student-wrn16_2" => Step(name, "plain WRN-16-2 step, CE only (no rotations, no aux)", o, "wrn16_2", null, new CrossEntropyLoss()),
            // Any zoo network as a plain student (not in the default list): --scenario student:mobilenetv2_half
            _ when name.StartsWith("student:", StringComparison.Ordinal)
                => Step(name, $"plain {name[8..]} step, CE only (no rotations, no aux)", o, name[8..], null, new CrossEntropyLoss()),
            "teacher-wrn40_2" => Step(name, "teacher pretraining step, WRN-40-2 with aux, 4 rotations", o, "wrn40_2", null, new SelfSupervisedTeacherLoss()),
            "hsakd-wrn40_2-wrn16_2" => Step(name, "HSAKD step, WRN-40-2 (aux) -> WRN-16-2 (aux), 4 rotations", o, "wrn16_2", "wrn40_2", new HsakdLoss(3, 1, 1, 1)),
            "hsakd-resnet32x4-resnet8x4" => Step(name, "HSAKD step, ResNet32x4 (aux) -> ResNet8x4 (aux), 4 rotations", o, "resnet8x4", "resnet32x4", new HsakdLoss(3, 1, 1, 1)),
            // Optional (not in Names): the logit and contrastive steps of the HSAKD pair, for CRD's cost (issue 14 item 7).
            "kd-wrn40_2-wrn16_2" => Step(name, "KD step, WRN-40-2 -> WRN-16-2, no rotations", o, "wrn16_2", "wrn40_2", new KdLoss(4, 0.1, 0.9)),
            _ when name.StartsWith("crd-wrn40_2-wrn16_2", StringComparison.Ordinal)
                => Step(name, "CRD step, WRN-40-2 -> WRN-16-2, no rotations, K = " + CrdNegatives(name), o, "wrn16_2", "wrn40_2",
                    data => new CrdLoss(1, 0, 4, 0.8, new ContrastiveTerm(new ContrastMemory(128, 128, data.Count, 128),
                        new NegativeSampler(data.Labels, data.ClassCount), CrdNegatives(name), 0.07, 0.5))),
            // Online distillation (issue 15 item 3): two WRN-16-2 peers trained together, to set against student-wrn16_2 and the HSAKD step.
            "online-hsakd-2x-wrn16_2" => Step(name, "HSAKD online step, 2 x WRN-16-2 (aux) peers, 4 rotations", o, "wrn16_2+wrn16_2", null, new OnlineHsakdLoss(3, 2)),
            "online-mcl-2x-wrn16_2" => Step(name, "MCL step, 2 x WRN-16-2 peers with 128-wide embedding heads, no rotations", o, "wrn16_2+wrn16_2", null,
                _ => MclFor(2)),
            "teacher-forward-wrn40_2" => TeacherForward(name, o, fold: true),
            "teacher-forward-wrn40_2-unfolded" => TeacherForward(name, o, fold: false),
            "teacher-forward-wrn40_2-bf16" => TeacherForwardBf16(name, o),
            "teacher-forward-wrn40_2-channels-last" => TeacherForwardChannelsLast(name, o),
            ImageNetScenario.Name => ImageNetScenario.Run(o),
            "inference-wrn16_2" => Inference(o),
            "scoring-wrn16_2" => ScoringComparison.Run(o),
            "rss-growth" => RssGrowth(o),
            _ => throw new ArgumentException($"unknown scenario {name}; known: {string.Join(", ", Names)}"),
        };
    }

    /// <summary>
    /// The ceiling for the "of GEMM" column: fp32 2048^3 products through libtorch's two CPU GEMM back ends, each run for about
    /// two seconds after a warm-up, and the faster one kept. <c>torch.mm</c> goes to the BLAS libtorch was built with (MKL on
    /// x64, which takes a slower code path on some non-Intel CPUs); a 1x1 convolution with 2048 input and output channels over
    /// 2048 pixels is the same product through oneDNN, the library behind libtorch's convolutions.
    /// </summary>
    private static ScenarioResult Gemm()
    {
        const int n = 2048;
        using var a = randn(n, n);
        using var b = randn(n, n);
        double blas = Sustained(() => a.mm(b), 2.0 * n * n * n);
        using var pixels = randn(1, n, 32, n / 32);
        using var weight = randn(n, n, 1, 1);
        double onednn = Sustained(() => nn.functional.conv2d(pixels, weight), 2.0 * n * n * n);
        double best = Math.Max(blas, onednn);
        return new ScenarioResult
        {
            Name = "gemm",
            Description = $"fp32 GEMM 2048^3: torch.mm {blas:F0} GFLOP/s, as a 1x1 convolution (oneDNN) {onednn:F0} GFLOP/s",
            GemmGflops = best,
            GemmKernel = onednn >= blas ? "fp32 2048^3 as a 1x1 convolution, oneDNN" : "fp32 2048^3 torch.mm",
            PeakRssGiB = Machine.PeakRssGiB(),
        };
    }

    private static double Sustained(Func<Tensor> product, double flopPerCall)
    {
        for (int i = 0; i < 3; i++)
            using (product()) { }
        int calls = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 2.0 || calls < 5)
        {
            using (product()) { }
            calls++;
        }
        return flopPerCall * calls / sw.Elapsed.TotalSeconds / 1e9;
    }

    /// <summary>
    /// A training scenario's result from its measured steps' timings and the FLOPs of one original image's step
    /// (<paramref name="batchSize"/> original images per step).
    /// </summary>
    internal static ScenarioResult StepResult(string name, string description, IReadOnlyList<StepTiming> measured, double flopsPerImage, int batchSize)
    {
        var perSecond = measured.Select(t => t.Images / t.TotalSeconds).Order().ToArray();
        double medianSeconds = Median(measured.Select(t => t.TotalSeconds));
        return new ScenarioResult
        {
            Name = name,
            Description = description,
            Steps = measured.Count,
            MedianImagesPerSecond = Median(perSecond),
            P10ImagesPerSecond = Percentile(perSecond, 0.1),
            P90ImagesPerSecond = Percentile(perSecond, 0.9),
            GflopPerStep = flopsPerImage * batchSize / 1e9,
            AchievedGflops = flopsPerImage * batchSize / medianSeconds / 1e9,
            DataShare = Median(measured.Select(t => t.DataSeconds)) / medianSeconds,
            OutsideShare = Median(measured.Select(t => t.OutsideNetworksSeconds)) / medianSeconds,
            PeakRssGiB = Machine.PeakRssGiB(),
        };
    }

    /// <summary>A forward-only scenario's result from its per-call images/s and the FLOPs of one image's forward.</summary>
    private static ScenarioResult ForwardResult(string name, string description, List<double> imagesPerSecond, double flopsPerImage, int batchSize)
    {
        var sorted = imagesPerSecond.Order().ToArray();
        return new ScenarioResult
        {
            Name = name,
            Description = description,
            Steps = sorted.Length,
            MedianImagesPerSecond = Median(sorted),
            P10ImagesPerSecond = Percentile(sorted, 0.1),
            P90ImagesPerSecond = Percentile(sorted, 0.9),
            GflopPerStep = flopsPerImage * batchSize / 1e9,
            AchievedGflops = flopsPerImage * Median(sorted) / 1e9,
            PeakRssGiB = Machine.PeakRssGiB(),
        };
    }

    /// <summary>MCL's loss with the paper's weights for <paramref name="peers"/> peers (its heads are made once the peers exist).</summary>
    private static MclLoss MclFor(int peers) => new(new MclSettings(0.1, 3, 0.1, 1, 0.1, 1, 0), peers);

    /// <summary>K of a CRD scenario: 16384, or the number after a colon (<c>crd-wrn40_2-wrn16_2:4096</c>).</summary>
    private static int CrdNegatives(string name)
        => name.Contains(':', StringComparison.Ordinal) ? int.Parse(name[(name.IndexOf(':', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture) : 16384;

    private static ScenarioResult Step(string name, string description, BenchmarkOptions o, string studentName, string? teacherName, IDistillationLoss loss)
        => Step(name, description, o, studentName, teacherName, _ => loss);

    /// <summary>A training step scenario; the loss is made for the synthetic data (CRD's banks and sampler need its rows and labels).</summary>
    private static ScenarioResult Step(string name, string description, BenchmarkOptions o, string studentName, string? teacherName,
        Func<ImageTensorDataset, IDistillationLoss> createLoss)
    {
        const int classes = 100, size = 32;
        int steps = o.Warmup + o.Steps;
        using var data = Synthetic(steps * o.BatchSize, classes, size);
        var loss = createLoss(data);
        int rotations = loss.UsesRotations ? Rotations() : 1;
        // "a+b": a group of peers trained together (online distillation).
        using var student = studentName.Contains('+', StringComparison.Ordinal)
            ? new PeerGroupNetwork(studentName.Split('+').Select(n => NetworkRegistry.Create(n, 3, classes)).ToArray())
            : NetworkRegistry.Create(studentName, 3, classes);
        if (loss is MclLoss mcl)
            mcl.Prepare(((PeerGroupNetwork)student).Members.Select(m => m.EmbeddingSize).ToArray(), 128);
        using var teacher = teacherName is null ? null : NetworkRegistry.Create(teacherName, 3, classes);
        student.ComputeAuxiliary = loss.UsesAuxiliaryBranches;
        // Count only what runs: the auxiliary branches are computed only when the loss uses them.
        bool aux = loss.UsesAuxiliaryBranches;
        double flops = 3 * FlopCounter.ForwardFlops(student, 3, size, includeAuxiliary: aux) * rotations
            + (teacher is null ? 0 : FlopCounter.ForwardFlops(teacher, 3, size, includeAuxiliary: aux) * rotations);
        using var normalization = ChannelNormalization.FromValues(new[] { 129f, 124f, 112f }, new[] { 68f, 65f, 70f }, 3);
        var timings = new List<StepTiming>();
        var settings = new TrainingSettings
        {
            Phase = name, Epochs = 1, BatchSize = o.BatchSize, Schedule = new LearningRateSchedule(0.05, Array.Empty<int>(), 0.1),
            Momentum = 0.9, Nesterov = true, WeightDecay = 5e-4, Seed = 1, Device = CPU, RandomCropPadding = 4, HorizontalFlip = true,
            ReleaseMemoryEachStep = o.ReleaseMemory,
            FoldTeacherBatchNorms = o.FoldTeacher,
            ChannelsLast = o.ChannelsLast,
            TeacherInBFloat16 = o.TeacherBFloat16,
            MixedPrecision = o.StudentBFloat16Mixed,
            StepObserver = t =>
            {
                timings.Add(t);
                if (TraceRss)
                {
                    var live = DisposeScopeManager.Statistics;
                    Console.WriteLine($"step {t.Batch}: {t.TotalSeconds:F2} s, {Machine.CpuTimes()}, RSS {Machine.CurrentRssGiB():F3} GiB, peak {Machine.PeakRssGiB():F3} GiB, " +
                        $"tensors created outside scopes {live.CreatedOutsideScopeCount}, live {live.ThreadTotalLiveCount}, {Machine.MallocInfo()}");
                }
            },
        };
        var env = new MLContext(seed: 1);
        using var channel = ((IHostEnvironment)env).Register("bench").Start("bench");
        new TrainingEngine(channel, null).Run(student, teacher, loss, data, null, normalization, settings);
        (loss as IDisposable)?.Dispose();

        return StepResult(name, description, timings.Skip(o.Warmup).ToArray(), flops, o.BatchSize);

        static int Rotations() => Microsoft.ML.Distillation.SelfSupervision.Rotations.Count;
    }

    /// <summary>
    /// The frozen teacher's forward as an HSAKD step runs it: WRN-40-2 with aux over 4 rotations of the batch, no grad, through the
    /// engine's <see cref="FrozenNetwork"/> (in bfloat16 with <c>--teacher-bf16 true</c>, channels-last with <c>--channels-last true</c>).
    /// </summary>
    private static ScenarioResult TeacherForward(string name, BenchmarkOptions o, bool fold)
    {
        // As inside a training: the engine keeps freed memory (NativeHeap) before its first step. Without it, glibc returns each
        // layer's output to the kernel here and the next call faults it in again (4.4x slower with PyTorch 1.13, 2026-12-05).
        Microsoft.ML.Distillation.Native.NativeHeap.KeepFreedMemory();
        using var teacher = NetworkRegistry.Create("wrn40_2", 3, 100);
        using var lease = new FrozenNetwork(teacher, CPU, computeAuxiliary: true, foldBatchNorms: fold, channelsLast: o.ChannelsLast, bfloat16: o.TeacherBFloat16);
        var times = new List<double>();
        for (int i = 0; i < o.Warmup + o.Steps; i++)
        {
            using var scope = NewDisposeScope();
            var input = randn(4L * o.BatchSize, 3, 32, 32);
            var sw = Stopwatch.StartNew();
            lease.Forward(o.ChannelsLast ? Microsoft.ML.Distillation.Training.ChannelsLast.Of(input) : input, keepFeatures: false);
            double seconds = sw.Elapsed.TotalSeconds;
            if (TraceRss)
                Console.WriteLine($"forward {i + 1}: {seconds:F2} s, {Machine.CpuTimes()}, peak {Machine.PeakRssGiB():F3} GiB");
            if (i >= o.Warmup)
                times.Add(o.BatchSize / seconds);
        }
        return ForwardResult(name,
            $"teacher forward, WRN-40-2 with aux, {4 * o.BatchSize} rotated rows, no grad, " + (fold ? $"BN folded ({lease.FoldedNormCount} of {teacher.modules().OfType<TorchSharp.Modules.BatchNorm2d>().Count()} batch norms)" : "BN unfolded")
            + (o.TeacherBFloat16 ? ", bfloat16" : "") + (o.ChannelsLast ? ", channels-last" : ""),
            times, FlopCounter.ForwardFlops(teacher, 3, 32) * 4, o.BatchSize);
    }

    /// <summary>
    /// An experiment, not an engine path: the teacher's forward with the input and every convolution weight in channels-last
    /// (NHWC) layout, made as the engine makes it (<see cref="Microsoft.ML.Distillation.Training.ChannelsLast"/>). Also reports the
    /// largest difference of the logits from the NCHW forward.
    /// </summary>
    private static ScenarioResult TeacherForwardChannelsLast(string name, BenchmarkOptions o)
    {
        using var teacher = NetworkRegistry.Create("wrn40_2", 3, 100);
        teacher.eval();
        using var nhwc = NetworkRegistry.Create("wrn40_2", 3, 100);
        using (var s = NewDisposeScope())
            nhwc.load_state_dict(teacher.state_dict());
        nhwc.eval();
        Microsoft.ML.Distillation.Training.ChannelsLast.ApplyPermanently(nhwc);
        var times = new List<double>();
        double worst = 0;
        using (no_grad())
        {
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var input = randn(4L * o.BatchSize, 3, 32, 32);
                var sw = Stopwatch.StartNew();
                var output = nhwc.forward(Microsoft.ML.Distillation.Training.ChannelsLast.Of(input));
                double seconds = sw.Elapsed.TotalSeconds;
                if (i < o.Warmup)
                    continue;
                times.Add(o.BatchSize / seconds);
                worst = Math.Max(worst, (output.Logits - teacher.forward(input).Logits).abs().max().item<float>());
            }
        }
        return ForwardResult(name,
            $"teacher forward, channels-last (experiment), WRN-40-2 with aux, {4 * o.BatchSize} rotated rows, no grad, BN unfolded; max |logit difference| {worst:E1}",
            times, FlopCounter.ForwardFlops(teacher, 3, 32) * 4, o.BatchSize);
    }

    /// <summary>
    /// An experiment, not an engine path: the teacher's forward in bfloat16 (weights and input cast, outputs cast back), its speed,
    /// and how far its softened outputs (T = 3, as HSAKD uses them) are from the float32 ones: mean KL(p_fp32 || p_bf16) per row.
    /// </summary>
    private static ScenarioResult TeacherForwardBf16(string name, BenchmarkOptions o)
    {
        using var teacher = NetworkRegistry.Create("wrn40_2", 3, 100);
        // Non-trivial batch-norm statistics, so that the logits are not all near zero as with fresh weights.
        using (no_grad())
        {
            foreach (var norm in teacher.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
            {
                using var s = NewDisposeScope();
                long c = norm.num_features;
                norm.running_mean!.copy_(randn(c) * 0.3);
                norm.running_var!.copy_(rand(c) * 1.5 + 0.5);
                norm.weight!.copy_(rand(c) + 0.5);
                norm.bias!.copy_(randn(c) * 0.2);
            }
        }
        teacher.eval();
        using var half = NetworkRegistry.Create("wrn40_2", 3, 100);
        using (var s = NewDisposeScope())
            half.load_state_dict(teacher.state_dict());
        half.eval();
        half.to(ScalarType.BFloat16);
        var times = new List<double>();
        double worstKl = 0, sumKl = 0;
        using (no_grad())
        {
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var input = randn(4L * o.BatchSize, 3, 32, 32);
                var sw = Stopwatch.StartNew();
                var output = half.forward(input.to(ScalarType.BFloat16));
                var logits = output.Logits.to(ScalarType.Float32);
                var aux = output.AuxLogits.Select(a => a.to(ScalarType.Float32)).ToArray();
                double seconds = sw.Elapsed.TotalSeconds;
                if (TraceRss)
                    Console.WriteLine($"forward {i + 1}: {seconds:F2} s, {Machine.CpuTimes()}, peak {Machine.PeakRssGiB():F3} GiB");
                if (i < o.Warmup)
                    continue;
                times.Add(o.BatchSize / seconds);
                var reference = teacher.forward(input);
                foreach (var (exact, approximate) in aux.Zip(reference.AuxLogits).Select(p => (p.Second, p.First)).Append((reference.Logits, logits)))
                {
                    var logP = nn.functional.log_softmax(exact / 3.0, 1);
                    var logQ = nn.functional.log_softmax(approximate / 3.0, 1);
                    double kl = (logP.exp() * (logP - logQ)).sum(1).mean().item<float>();
                    worstKl = Math.Max(worstKl, kl);
                    sumKl += kl;
                }
            }
        }
        return ForwardResult(name,
            $"teacher forward in bfloat16 (experiment), WRN-40-2 with aux, {4 * o.BatchSize} rows; KL(fp32 || bf16) at T=3: mean {sumKl / (times.Count * 4):E1}, worst {worstKl:E1}",
            times, FlopCounter.ForwardFlops(teacher, 3, 32) * 4, o.BatchSize);
    }

    private static ScenarioResult Inference(BenchmarkOptions o)
    {
        using var network = NetworkRegistry.Create("wrn16_2", 3, 100);
        network.eval();
        using var normalization = ChannelNormalization.FromValues(new[] { 129f, 124f, 112f }, new[] { 68f, 65f, 70f }, 3);
        var times = new List<double>();
        using (no_grad())
        {
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var raw = randint(0, 256, new long[] { o.BatchSize, 3, 32, 32 }, dtype: ScalarType.Byte);
                var sw = Stopwatch.StartNew();
                var logits = network.ForwardLogits(normalization.Normalize(raw));
                _ = nn.functional.softmax(logits, 1).cpu();
                if (i >= o.Warmup)
                    times.Add(o.BatchSize / sw.Elapsed.TotalSeconds);
            }
        }
        return ForwardResult("inference-wrn16_2",
            $"WRN-16-2 scoring (backbone only), batch {o.BatchSize}",
            times, FlopCounter.ForwardFlops(network, 3, 32, includeAuxiliary: false), o.BatchSize);
    }

    /// <summary>RSS after epochs 1 and 5 of a real training: an HSAKD resnet8 student from a resnet20 teacher on the embedded Fashion-MNIST subset.</summary>
    private static ScenarioResult RssGrowth(BenchmarkOptions o)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Transforms.Conversion.MapValueToKey("Label").Fit(FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "train", 2000))
            .Transform(FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "train", 2000));
        using var teacher = ml.Distillation.Teacher(new TeacherOptions { Architecture = "resnet8", Epochs = 1, Seed = 1, NumberOfThreads = o.Threads }).Fit(train);
        var rss = new Dictionary<int, double>();
        using var student = ml.Distillation.Hsakd(teacher, new HsakdOptions
        {
            Architecture = "resnet8", Epochs = 5, Seed = 1, NumberOfThreads = o.Threads, ReleaseMemoryEachStep = o.ReleaseMemory,
            MetricsCallback = m =>
            {
                rss[m.Epoch] = Machine.CurrentRssGiB();
                if (Environment.GetEnvironmentVariable("BENCH_SMAPS") is { } smapsPrefix)
                    File.Copy("/proc/self/smaps", $"{smapsPrefix}{m.Phase}{m.Epoch}.txt", overwrite: true);
                if (TraceRss)
                    Console.WriteLine($"epoch {m.Epoch}: {Machine.CpuTimes()}, RSS {rss[m.Epoch]:F3} GiB ({Machine.RssParts()}), peak {Machine.PeakRssGiB():F3} GiB, " +
                        $"managed heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:F1} MiB (committed {GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0:F1}), live tensors {DisposeScopeManager.Statistics.ThreadTotalLiveCount}, {Machine.MallocInfo()}");
            },
        }).Fit(train);
        return new ScenarioResult
        {
            Name = "rss-growth",
            Description = "HSAKD resnet8 -> resnet8, 2,000 Fashion-MNIST images, 5 epochs",
            RssAfterEpoch1GiB = rss[1],
            RssAfterEpoch5GiB = rss[5],
            PeakRssGiB = Machine.PeakRssGiB(),
        };
    }

    /// <summary>Random byte images and labels (unseeded: timings do not depend on the values).</summary>
    internal static ImageTensorDataset Synthetic(int rows, int classes, int size)
    {
        var images = randint(0, 256, new long[] { rows, 3, size, size }, dtype: ScalarType.Byte).DetachFromDisposeScope();
        var labels = randint(0, classes, new long[] { rows }, dtype: ScalarType.Int64).DetachFromDisposeScope();
        return new ImageTensorDataset(images, labels, new ImageShape(3, size, size), classes,
            Enumerable.Range(0, classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray());
    }

    internal static double Median(IEnumerable<double> values) => Percentile(values.Order().ToArray(), 0.5);

    private static double Percentile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
            return double.NaN;
        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
    }
}
