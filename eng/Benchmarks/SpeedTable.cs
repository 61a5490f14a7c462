// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using System.Text;
using Microsoft.ML.Distillation.Native;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>
/// Issue 19 item 6: one command, one machine, one table. For the HSAKD pairs (WRN-40-2 -> WRN-16-2, ResNet32x4 -> ResNet8x4), the
/// plain WRN-16-2 student step and the WRN-40-2 teacher's forward, in float32 and bfloat16, NCHW and channels-last, each round times
/// the project's scenario (a child process) and the PyTorch reference of the same work in the same precision and layout
/// (eng/pytorch-reference-step.py: bfloat16 is torch.autocast there), alternating which goes first, and prints the ratios.
/// bfloat16 here is the engine's whole bfloat16 path: the teacher's bfloat16 forward and the student's mixed precision.
/// </summary>
internal static class SpeedTable
{
    private static readonly string[] ScenarioNames = ["hsakd-wrn40_2-wrn16_2", "hsakd-resnet32x4-resnet8x4", "student-wrn16_2", "teacher-forward-wrn40_2"];

    private sealed record Cell(string Scenario, bool BFloat16, bool ChannelsLast)
    {
        public List<double> Ours { get; } = [];
        public List<double> PyTorch { get; } = [];
        public List<double> PeakRss { get; } = [];
        public List<double> Ratios { get; } = [];
    }

    public static int Run(string[] args)
    {
        int rounds = 2;
        string[] scenarioNames = ScenarioNames;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rounds" && i + 1 < args.Length)
                rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--scenarios" && i + 1 < args.Length)
                scenarioNames = args[++i].Split(',');
            else
                rest.Add(args[i]);
        }
        var options = BenchmarkOptions.Parse([.. rest]);
        if (options is null)
            return 2;
        if (scenarioNames.FirstOrDefault(n => !ScenarioNames.Contains(n)) is { } unknown)
        {
            Console.Error.WriteLine($"--scenarios: '{unknown}' has no PyTorch reference; known: {string.Join(",", ScenarioNames)}");
            return 2;
        }
        if (PyTorchReference.FindPython("speed-table") is not (string python, string script, string torchVersion))
            return 0;

        string command = $"dotnet run -c Release --project eng/Benchmarks -- speed-table --rounds {rounds}"
            + (scenarioNames.Length == ScenarioNames.Length ? "" : $" --scenarios {string.Join(",", scenarioNames)}") + $" {options.Describe()}";
        bool bfloat16 = BFloat16Support.IsFastOnCpu(out string bfloat16Reason);
        Console.WriteLine($"{Machine.Cpu()} ({Machine.CpuFeatures()}), {options.Threads} threads, .NET {Environment.Version}, PyTorch {torchVersion} ({python})");
        Console.WriteLine(command);
        if (!bfloat16)
            Console.WriteLine($"bfloat16 rows skipped: {bfloat16Reason} (the library would train in float32 here).");
        // The kernel check's answer depends on the thread count: ask it at the count the scenarios run with.
        TorchSharp.torch.set_num_threads(options.Threads);
        bool channelsLastExact = Training.ChannelsLast.KernelsAgree(out string channelsLastReason);
        if (!channelsLastExact)
            Console.WriteLine($"channels-last rows (marked *): the library's kernel check fails here ({channelsLastReason}), so it trains NCHW whatever ChannelsLast says; those rows time kernels it does not trust.");

        var cells = (from scenario in scenarioNames
                     from bf16 in bfloat16 ? new[] { false, true } : [false]
                     from channelsLast in new[] { false, true }
                     select new Cell(scenario, bf16, channelsLast)).ToList();
        var checkedScenarios = new HashSet<string>();
        for (int round = 1; round <= rounds; round++)
        {
            foreach (var cell in cells)
            {
                var cellOptions = options.With(cell.BFloat16, cell.ChannelsLast);
                bool pytorchFirst = round % 2 == 0;
                PyTorchReference.Reference? reference = pytorchFirst ? PyTorchReference.RunPython(python, script, cell.Scenario, cellOptions) : null;
                var ours = ChildScenario.Run(cell.Scenario, cellOptions);
                reference ??= PyTorchReference.RunPython(python, script, cell.Scenario, cellOptions);
                cell.Ours.Add(ours.MedianImagesPerSecond);
                cell.PyTorch.Add(reference.ImagesPerSecond);
                cell.PeakRss.Add(ours.PeakRssGiB);
                cell.Ratios.Add(ours.MedianImagesPerSecond / reference.ImagesPerSecond);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}, {cell.Scenario}, {Precision(cell)}, {Layout(cell)}: ours {ours.MedianImagesPerSecond:F1} img/s (peak RSS {ours.PeakRssGiB:F2} GiB), PyTorch {reference.ImagesPerSecond:F1} img/s, ratio {cell.Ratios[^1]:F2}{(pytorchFirst ? " (PyTorch ran first)" : "")}"));
                if (checkedScenarios.Add(cell.Scenario))
                    PyTorchReference.CheckSameNetworks(cell.Scenario, reference);
            }
        }

        Console.WriteLine();
        Console.WriteLine(Table(cells, channelsLastExact));
        Console.WriteLine($"Command: {command}");
        return 0;
    }

    private static string Precision(Cell c) => c.BFloat16 ? "bfloat16" : "float32";

    private static string Layout(Cell c, bool channelsLastExact = true) => c.ChannelsLast ? (channelsLastExact ? "channels-last" : "channels-last *") : "NCHW";

    /// <summary>Medians over the rounds; the last two columns compare with the float32 NCHW row of the same scenario.</summary>
    private static string Table(List<Cell> cells, bool channelsLastExact)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| scenario | precision | layout | ours, img/s | PyTorch, img/s | ours / PyTorch, same precision and layout: median (per round) | ours / PyTorch float32 NCHW | ours / ours float32 NCHW | ours, peak RSS GiB |");
        sb.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var c in cells)
        {
            var baseline = cells.First(b => b.Scenario == c.Scenario && !b.BFloat16 && !b.ChannelsLast);
            double ours = Scenarios.Median(c.Ours);
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Scenario} | {Precision(c)} | {Layout(c, channelsLastExact)} | {ours:F1} | {Scenarios.Median(c.PyTorch):F1} | {Scenarios.Median(c.Ratios):F2} ({string.Join(", ", c.Ratios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}) | {ours / Scenarios.Median(baseline.PyTorch):F2} | {ours / Scenarios.Median(baseline.Ours):F2} | {c.PeakRss.Max():F2} |"));
        }
        return sb.ToString();
    }
}
