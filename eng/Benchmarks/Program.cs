// Licensed under the MIT license. See LICENSE in the repository root.
//
// Throughput and memory of the training engine (issue 5). Each scenario runs in its own child process so that its peak
// RSS is its own. Usage:
//   dotnet run -c Release --project eng/Benchmarks -- throughput [--steps 20] [--warmup 3] [--threads N] [--write docs/benchmarks.md]
// One scenario in this process: add --scenario NAME (see Scenarios.Names). The 224-pixel ResNet-34 -> ResNet-18 scenario uses
// --batch-size-224 (default 8) and at most 1 warm-up + 5 measured steps (ImageNetScenario.cs).

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Distillation.Benchmarks;

var invariant = CultureInfo.InvariantCulture;
CultureInfo.DefaultThreadCurrentCulture = invariant;
CultureInfo.CurrentCulture = invariant;

var options = BenchmarkOptions.Parse(args);
if (options is null)
    return 2;

if (options.Scenario is not null)
{
    // Child: run one scenario, print one JSON line.
    var result = Scenarios.Run(options.Scenario, options);
    Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
    return 0;
}

string command = "dotnet run -c Release --project eng/Benchmarks -- throughput " + options.Describe();
Console.WriteLine($"{Machine.Cpu()}, {options.Threads} threads, .NET {Environment.Version}");
Console.WriteLine(command);
var results = new List<ScenarioResult>();
foreach (string scenario in Scenarios.Names)
{
    Console.WriteLine($"running {scenario} ...");
    var result = RunChild(scenario, options);
    results.Add(result);
    Console.WriteLine("  " + result.Summary());
}

string table = Report.Table(results, command, options);
Console.WriteLine();
Console.WriteLine(table);
if (options.WritePath is not null)
{
    File.AppendAllText(options.WritePath, Environment.NewLine + table);
    Console.WriteLine($"appended to {options.WritePath}");
}
return 0;

static ScenarioResult RunChild(string scenario, BenchmarkOptions options)
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
