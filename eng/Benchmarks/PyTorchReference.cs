// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>
/// Issue 19's same-run reference: each round times the project's scenario and eng/pytorch-reference-step.py (the same step in
/// PyTorch, written from the papers' definitions) one after the other, alternating which goes first, and prints the ratio
/// (ours / PyTorch, images per second) per round and its median. Both sides use the same thread count, batch and step counts.
/// Skips with a message where python3-torch is not installed.
/// </summary>
internal static class PyTorchReference
{
    /// <summary>The scenarios both sides implement.</summary>
    public static readonly string[] ScenarioNames = ["student-wrn16_2", "hsakd-wrn40_2-wrn16_2"];

    public static int Run(string[] args)
    {
        int rounds = 3;
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rounds" && i + 1 < args.Length)
                rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else
                rest.Add(args[i]);
        }
        var options = BenchmarkOptions.Parse([.. rest]);
        if (options is null)
            return 2;

        string script = Path.Combine(RepositoryRoot(), "eng", "pytorch-reference-step.py");
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        string? torchVersion = TorchVersion(python);
        if (torchVersion is null)
        {
            Console.WriteLine($"pytorch-reference skipped: '{python}' cannot import torch. Install Debian's python3-torch (apt-get install python3-torch).");
            return 0;
        }

        string command = $"dotnet run -c Release --project eng/Benchmarks -- pytorch-reference --rounds {rounds} {options.Describe()}";
        Console.WriteLine($"{Machine.Cpu()}, {options.Threads} threads, .NET {Environment.Version}, PyTorch {torchVersion} ({python})");
        Console.WriteLine(command);
        var ratios = ScenarioNames.ToDictionary(s => s, _ => new List<double>());
        for (int round = 1; round <= rounds; round++)
        {
            foreach (string scenario in ScenarioNames)
            {
                bool pytorchFirst = round % 2 == 0;
                Reference? reference = pytorchFirst ? RunPython(python, script, scenario, options) : null;
                double ours = ChildScenario.Run(scenario, options).MedianImagesPerSecond;
                reference ??= RunPython(python, script, scenario, options);
                double ratio = ours / reference.ImagesPerSecond;
                ratios[scenario].Add(ratio);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}, {scenario}: ours {ours:F1} img/s, PyTorch {reference.ImagesPerSecond:F1} img/s, ratio {ratio:F2}{(pytorchFirst ? " (PyTorch ran first)" : "")}"));
                if (round == 1)
                    CheckSameNetworks(scenario, reference);
            }
        }

        Console.WriteLine();
        Console.WriteLine("| scenario | rounds | ratio ours / PyTorch, median | per round |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var (scenario, values) in ratios)
        {
            double median = Scenarios.Median(values);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {scenario} | {values.Count} | {median:F2} | {string.Join(", ", values.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))} |"));
        }
        Console.WriteLine($"Command: {command}");
        return 0;
    }

    private sealed record Reference(double ImagesPerSecond, long StudentParameters, long TeacherParameters);

    /// <summary>Both sides must train the same networks: the parameter counts of the script's networks against the zoo's.</summary>
    private static void CheckSameNetworks(string scenario, Reference reference)
    {
        bool hsakd = scenario.StartsWith("hsakd", StringComparison.Ordinal);
        using var student = NetworkRegistry.Create("wrn16_2", 3, 100);
        long ours = NetworkRegistry.CountParameters(student.Backbone) + (hsakd ? NetworkRegistry.CountParameters(student.Auxiliary) : 0);
        long teacher = 0;
        if (hsakd)
        {
            using var t = NetworkRegistry.Create("wrn40_2", 3, 100);
            teacher = NetworkRegistry.CountParameters(t);
        }
        string verdict = ours == reference.StudentParameters && teacher == reference.TeacherParameters ? "same networks" : "DIFFERENT NETWORKS: the ratio compares unlike work";
        Console.WriteLine($"  parameters: student {ours:N0} (PyTorch {reference.StudentParameters:N0}), teacher {teacher:N0} (PyTorch {reference.TeacherParameters:N0}): {verdict}");
    }

    private static Reference RunPython(string python, string script, string scenario, BenchmarkOptions options)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--scenario", scenario, "--steps", options.Steps.ToString(CultureInfo.InvariantCulture),
                     "--warmup", options.Warmup.ToString(CultureInfo.InvariantCulture), "--batch-size", options.BatchSize.ToString(CultureInfo.InvariantCulture),
                     "--threads", options.Threads.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        string? line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
            throw new InvalidOperationException($"the PyTorch reference failed (exit {process.ExitCode}):\n{output}\n{stderr.Result}");
        using var json = JsonDocument.Parse(line["RESULT ".Length..]);
        var root = json.RootElement;
        return new Reference(root.GetProperty("images_per_second").GetDouble(), root.GetProperty("student_parameters").GetInt64(),
            root.GetProperty("teacher_parameters").GetInt64());
    }

    private static string? TorchVersion(string python)
    {
        try
        {
            var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("import torch; print(torch.__version__)");
            using var process = Process.Start(info)!;
            string version = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && version.Length > 0 ? version : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no python at all
        }
    }

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Distillation.sln")))
            folder = folder.Parent;
        return folder?.FullName ?? throw new InvalidOperationException($"No Distillation.sln above {AppContext.BaseDirectory}: run from the repository.");
    }
}
