// Licensed under the MIT license. See LICENSE in the repository root.
//
// Throughput and memory of the training engine (issue 5). Each scenario runs in its own child process so that its peak
// RSS is its own. Usage:
//   dotnet run -c Release --project eng/Benchmarks -- throughput [--steps 20] [--warmup 3] [--threads N] [--write docs/benchmarks.md]
//   dotnet run -c Release --project eng/Benchmarks -- pytorch-reference [--rounds 3] [--steps 10] [--warmup 2] [--threads 2]
//     (issue 19: the same-run PyTorch reference, PyTorchReference.cs; needs Debian's python3-torch)
//   dotnet run -c Release --project eng/Benchmarks -- speed-table [--rounds 2] [--scenarios a,b] [--steps 5] [--warmup 2] [--threads 2]
//     (issue 19 item 6: float32/bfloat16 x NCHW/channels-last for the HSAKD pairs, the plain student and the teacher forward,
//     each against the same-run PyTorch reference; SpeedTable.cs)
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

if (args.Length > 0 && args[0] == "pytorch-reference")
    return PyTorchReference.Run(args[1..]);
if (args.Length > 0 && args[0] == "speed-table")
    return SpeedTable.Run(args[1..]);

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
    var result = ChildScenario.Run(scenario, options);
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
