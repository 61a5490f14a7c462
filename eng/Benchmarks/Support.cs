// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>Facts about this machine and process.</summary>
internal static class Machine
{
    public static string Cpu()
    {
        try
        {
            string? model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return model is null ? "unknown CPU" : model[(model.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    /// <summary>CPU family and model and the instruction sets that decide bfloat16's speed, from /proc/cpuinfo.</summary>
    public static string CpuFeatures()
    {
        try
        {
            var lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0).ToArray();
            string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l[name.Length..].TrimStart().StartsWith(':'))
                ?.Split(':', 2)[1].Trim() ?? "?";
            var flags = Field("flags").Split(' ').ToHashSet();
            string[] relevant = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"];
            return $"family {Field("cpu family")} model {Field("model")}; " + string.Join(" ", relevant.Select(f => flags.Contains(f) ? f : "no " + f));
        }
        catch (IOException)
        {
            return "no /proc/cpuinfo";
        }
    }

    private static TimeSpan s_lastUser, s_lastSystem;

    /// <summary>User and system CPU time of this process since the previous call (less sensitive to a busy machine than wall time).</summary>
    public static string CpuTimes()
    {
        using var self = Process.GetCurrentProcess();
        TimeSpan user = self.UserProcessorTime, system = self.PrivilegedProcessorTime;
        string text = $"cpu user {(user - s_lastUser).TotalSeconds:F2} s sys {(system - s_lastSystem).TotalSeconds:F2} s";
        (s_lastUser, s_lastSystem) = (user, system);
        return text;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 NativeMallInfo2();

    /// <summary>glibc's view of the native heap: sbrk/arena bytes, of which free, and mmapped bytes (MiB).</summary>
    public static string MallocInfo()
    {
        try
        {
            var m = NativeMallInfo2();
            return $"malloc arena {m.Arena / 1048576.0:F0} MiB (in use {m.Uordblks / 1048576.0:F0}, free {m.Fordblks / 1048576.0:F0}), mmapped {m.Hblkhd / 1048576.0:F0} MiB in {m.Hblks}";
        }
        catch (EntryPointNotFoundException)
        {
            return "no mallinfo2";
        }
    }

    public static double PeakRssGiB() => StatusKiB("VmHWM:") / 1024.0 / 1024.0;

    public static double CurrentRssGiB() => StatusKiB("VmRSS:") / 1024.0 / 1024.0;

    /// <summary>VmRSS split into anonymous memory and file-backed pages (code, mapped files), MiB.</summary>
    public static string RssParts() => $"anon {StatusKiB("RssAnon:") / 1024.0:F1} MiB, file {StatusKiB("RssFile:") / 1024.0:F1} MiB";

    private static double StatusKiB(string field)
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}

/// <summary>The markdown table for docs/benchmarks.md.</summary>
internal static class Report
{
    private static string Share(double share) => share > 0 ? share.ToString("P1", CultureInfo.InvariantCulture) : "-";

    public static string Table(IReadOnlyList<ScenarioResult> results, string command, BenchmarkOptions o)
    {
        var gemmResult = results.First(r => r.GemmGflops is not null);
        double gemm = gemmResult.GemmGflops!.Value;
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### Training throughput and memory, {DateTime.UtcNow:yyyy-MM-dd}");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Machine.Cpu()}, {Environment.ProcessorCount} cores, {o.Threads} torch threads, TorchSharp {typeof(torch).Assembly.GetName().Version}, .NET {Environment.Version}.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Batch {o.BatchSize} original images, 3x32x32, 100 classes, synthetic pixels; {o.Warmup} warm-up steps, then {o.Steps} measured. GEMM reference: {gemm:F0} GFLOP/s ({gemmResult.GemmKernel}; {gemmResult.Description}).");
        sb.AppendLine("FLOPs count convolutions and linear layers, 2 per multiply-add; a training step counts 3x the forward of the trained network plus 1x the teacher's forward.");
        sb.AppendLine("Outside the networks: data preparation (gather, crop, flip, normalise, rotate) + the loss computation + the epoch statistics, as a share of the median step.");
        sb.AppendLine();
        sb.AppendLine("| scenario | img/s median | p10-p90 | GFLOP/step | GFLOP/s | of GEMM | data prep share | outside the networks | peak RSS (GiB) |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in results.Where(r => r.GemmGflops is null && r.RssAfterEpoch1GiB is null && r.Scoring is null))
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Description} | {r.MedianImagesPerSecond:F1} | {r.P10ImagesPerSecond:F1}-{r.P90ImagesPerSecond:F1} | {r.GflopPerStep:F1} | {r.AchievedGflops:F0} | {r.AchievedGflops / gemm:P0} | {Share(r.DataShare)} | {Share(r.OutsideShare)} | {r.PeakRssGiB:F2} |");
        }
        foreach (var r in results.Where(r => r.Scoring is not null))
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"{r.Description} (CPU, {o.Threads} threads; random weights, 3x32x32, 100 classes):");
            sb.AppendLine();
            sb.AppendLine("| path | images/s |");
            sb.AppendLine("| --- | --- |");
            foreach (var (path, rate) in r.Scoring!)
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {path} | {rate:F0} |");
        }
        var rss = results.FirstOrDefault(r => r.RssAfterEpoch1GiB is not null);
        if (rss is not null)
        {
            double growth = (rss.RssAfterEpoch5GiB!.Value - rss.RssAfterEpoch1GiB!.Value) / rss.RssAfterEpoch1GiB.Value;
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"Memory across epochs ({rss.Description}): RSS {rss.RssAfterEpoch1GiB:F3} GiB after epoch 1, {rss.RssAfterEpoch5GiB:F3} GiB after epoch 5 ({growth:+0.0%;-0.0%}).");
        }
        return sb.ToString();
    }
}
