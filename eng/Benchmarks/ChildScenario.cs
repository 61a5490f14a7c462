// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>Runs one scenario in a child process of this benchmark (so that its peak RSS is its own) and reads its RESULT line.</summary>
internal static class ChildScenario
{
    public static ScenarioResult Run(string scenario, BenchmarkOptions options)
    {
        string self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            info.ArgumentList.Add(typeof(Scenarios).Assembly.Location);
        foreach (var a in options.ChildArguments(scenario))
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string? line, resultLine = null;
        var output = new StringBuilder();
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            output.AppendLine(line);
            if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                resultLine = line["RESULT ".Length..];
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || resultLine is null)
            throw new InvalidOperationException($"scenario {scenario} failed (exit {process.ExitCode}):\n{output}\n{stderr.Result}");
        return JsonSerializer.Deserialize<ScenarioResult>(resultLine)!;
    }
}
