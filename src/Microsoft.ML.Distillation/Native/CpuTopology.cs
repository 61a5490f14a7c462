// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;

namespace Microsoft.ML.Distillation.Native;

/// <summary>
/// How many torch threads training uses by default: one per physical core available to the process. libtorch's own default
/// counts the machine's physical cores (cpuinfo) but ignores the process's CPU affinity and container CPU limits, and
/// <see cref="Environment.ProcessorCount"/> honours those but counts SMT siblings (hyper-threads) as cores; compute-bound
/// convolutions gain nothing from a second thread on the same core.
/// </summary>
internal static class CpuTopology
{
    /// <summary>
    /// The thread count to set when the user gave none, or null to leave libtorch's default: null when <c>OMP_NUM_THREADS</c> or
    /// <c>MKL_NUM_THREADS</c> is set (libtorch follows those), otherwise <see cref="PhysicalCoreCount()"/>.
    /// </summary>
    public static int? DefaultTorchThreads()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS")) ||
            !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MKL_NUM_THREADS")))
            return null;
        return PhysicalCoreCount();
    }

    /// <summary>
    /// Physical cores among the CPUs this process may run on: on Linux, the distinct (package, core) pairs in sysfs over the CPUs of
    /// the affinity mask (<c>Cpus_allowed_list</c>), capped by <see cref="Environment.ProcessorCount"/> (which honours CPU quotas).
    /// Elsewhere, or when sysfs cannot be read, <see cref="Environment.ProcessorCount"/>.
    /// </summary>
    public static int PhysicalCoreCount() => PhysicalCoreCount(ReadFile, Environment.ProcessorCount);

    /// <summary>The same, reading files through <paramref name="readFile"/> (null when absent), for tests.</summary>
    internal static int PhysicalCoreCount(Func<string, string?> readFile, int processorCount)
    {
        try
        {
            string? status = readFile("/proc/self/status");
            string? allowed = status?.Split('\n').FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            if (allowed is null)
                return processorCount;
            var cores = new HashSet<(string Package, string Core)>();
            foreach (int cpu in ParseCpuList(allowed["Cpus_allowed_list:".Length..]))
            {
                string directory = $"/sys/devices/system/cpu/cpu{cpu.ToString(CultureInfo.InvariantCulture)}/topology/";
                string? package = readFile(directory + "physical_package_id")?.Trim();
                string? core = readFile(directory + "core_id")?.Trim();
                if (string.IsNullOrEmpty(package) || string.IsNullOrEmpty(core))
                    return processorCount;
                cores.Add((package, core));
            }
            return cores.Count == 0 ? processorCount : Math.Clamp(cores.Count, 1, processorCount);
        }
        catch (FormatException)
        {
            return processorCount;
        }
    }

    /// <summary>Parses a kernel CPU list such as <c>0-3,8,10-11</c>.</summary>
    internal static IEnumerable<int> ParseCpuList(string list)
    {
        var cpus = new List<int>();
        foreach (string part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            int first = int.Parse(dash < 0 ? part : part[..dash], CultureInfo.InvariantCulture);
            int last = dash < 0 ? first : int.Parse(part[(dash + 1)..], CultureInfo.InvariantCulture);
            if (last < first)
                throw new FormatException($"Bad CPU range '{part}'.");
            for (int cpu = first; cpu <= last; cpu++)
                cpus.Add(cpu);
        }
        return cpus;
    }

    private static string? ReadFile(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
