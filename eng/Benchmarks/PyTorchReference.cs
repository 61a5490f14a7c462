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

        if (FindPython("pytorch-reference") is not (string python, string script, string torchVersion))
            return 0;

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

    internal sealed record Reference(double ImagesPerSecond, long StudentParameters, long TeacherParameters);

    /// <summary>
    /// Both sides must run the same networks: the parameter counts of the script's networks against the zoo's; prints the verdict.
    /// </summary>
    internal static void CheckSameNetworks(string scenario, Reference reference)
    {
        var (studentName, withAux, teacherName) = scenario switch
        {
            "hsakd-wrn40_2-wrn16_2" => ("wrn16_2", true, "wrn40_2"),
            "hsakd-resnet32x4-resnet8x4" => ("resnet8x4", true, "resnet32x4"),
            "student-wrn16_2" => ("wrn16_2", false, null),
            "teacher-forward-wrn40_2" => ((string?)null, false, "wrn40_2"),
            _ => throw new ArgumentException($"no PyTorch reference for {scenario}"),
        };
        long ours = 0, teacher = 0;
        if (studentName is not null)
        {
            using var student = NetworkRegistry.Create(studentName, 3, 100);
            ours = NetworkRegistry.CountParameters(student.Backbone) + (withAux ? NetworkRegistry.CountParameters(student.Auxiliary) : 0);
        }
        if (teacherName is not null)
        {
            using var t = NetworkRegistry.Create(teacherName, 3, 100);
            teacher = NetworkRegistry.CountParameters(t);
        }
        bool same = ours == reference.StudentParameters && teacher == reference.TeacherParameters;
        Console.WriteLine($"  {scenario} parameters: student {ours:N0} (PyTorch {reference.StudentParameters:N0}), teacher {teacher:N0} (PyTorch {reference.TeacherParameters:N0}): "
            + (same ? "same networks" : "DIFFERENT NETWORKS: the ratio compares unlike work"));
    }

    /// <summary>
    /// Runs eng/pytorch-reference-step.py for <paramref name="scenario"/> with the options' steps, batch and threads, in bfloat16
    /// autocast when either of the options' bfloat16 flags is set, and in channels-last when <paramref name="options"/> asks for it.
    /// </summary>
    internal static Reference RunPython(string python, string script, string scenario, BenchmarkOptions options)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, "--scenario", scenario, "--steps", options.Steps.ToString(CultureInfo.InvariantCulture),
                     "--warmup", options.Warmup.ToString(CultureInfo.InvariantCulture), "--batch-size", options.BatchSize.ToString(CultureInfo.InvariantCulture),
                     "--threads", options.Threads.ToString(CultureInfo.InvariantCulture),
                     "--precision", options.TeacherBFloat16 || options.StudentBFloat16Mixed ? "bfloat16" : "float32" })
            info.ArgumentList.Add(a);
        if (options.ChannelsLast)
            info.ArgumentList.Add("--channels-last");
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

    /// <summary>The python with torch and its version, or null (with the message printed) where torch cannot be imported.</summary>
    internal static (string Python, string Script, string Version)? FindPython(string mode)
    {
        string script = Path.Combine(RepositoryRoot(), "eng", "pytorch-reference-step.py");
        string python = File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
        string? version = TorchVersion(python);
        if (version is null)
        {
            Console.WriteLine($"{mode} skipped: '{python}' cannot import torch. Install Debian's python3-torch (apt-get install python3-torch).");
            return null;
        }
        return (python, script, version);
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
