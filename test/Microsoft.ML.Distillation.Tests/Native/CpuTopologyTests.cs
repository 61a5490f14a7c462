// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Native;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
public sealed class CpuTopologyTests
{
    /// <summary>A fake sysfs: CPU n sits on core <c>coreOf(n)</c> of package 0.</summary>
    private static Func<string, string?> Machine(string allowedList, int cpus, Func<int, int> coreOf) => path =>
    {
        if (path == "/proc/self/status")
            return $"Name:\tdotnet\nCpus_allowed:\tff\nCpus_allowed_list:\t{allowedList}\nMems_allowed:\t1\n";
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            string directory = $"/sys/devices/system/cpu/cpu{cpu}/topology/";
            if (path == directory + "physical_package_id")
                return "0\n";
            if (path == directory + "core_id")
                return $"{coreOf(cpu)}\n";
        }
        return null;
    };

    [TestMethod]
    public void SmtSiblings_CountOnce()
    {
        // 8 logical CPUs, 2 threads per core: CPUs n and n+4 share core n % 4.
        Assert.AreEqual(4, CpuTopology.PhysicalCoreCount(Machine("0-7", 8, cpu => cpu % 4), processorCount: 8));
    }

    [TestMethod]
    public void OneThreadPerCore_CountsEveryCpu()
    {
        Assert.AreEqual(2, CpuTopology.PhysicalCoreCount(Machine("0-1", 2, cpu => cpu), processorCount: 2));
    }

    [TestMethod]
    public void AffinityMask_Restricts()
    {
        // Allowed: CPUs 0, 4 (siblings of core 0) and 2: two cores.
        Assert.AreEqual(2, CpuTopology.PhysicalCoreCount(Machine("0,2,4", 8, cpu => cpu % 4), processorCount: 3));
    }

    [TestMethod]
    public void CpuQuota_Caps()
    {
        // 4 cores visible, but a container quota of 2 CPUs makes Environment.ProcessorCount 2.
        Assert.AreEqual(2, CpuTopology.PhysicalCoreCount(Machine("0-3", 4, cpu => cpu), processorCount: 2));
    }

    [TestMethod]
    public void UnreadableTopology_FallsBackToProcessorCount()
    {
        Assert.AreEqual(6, CpuTopology.PhysicalCoreCount(_ => null, processorCount: 6));
        Assert.AreEqual(6, CpuTopology.PhysicalCoreCount(path => path == "/proc/self/status" ? "Cpus_allowed_list:\t0-7\n" : null, processorCount: 6));
        Assert.AreEqual(6, CpuTopology.PhysicalCoreCount(path => path == "/proc/self/status" ? "Cpus_allowed_list:\t7-3\n" : null, processorCount: 6));
    }

    [TestMethod]
    public void CpuList_Parses()
    {
        CollectionAssert.AreEqual(new[] { 0, 1, 2, 3, 8, 10, 11 }, CpuTopology.ParseCpuList("0-3,8,10-11\n").ToArray());
    }

    [TestMethod]
    public void ThisMachine_HasAtLeastOneCore_AndNoMoreThanItsProcessors()
    {
        int cores = CpuTopology.PhysicalCoreCount();
        Assert.IsGreaterThanOrEqualTo(1, cores);
        Assert.IsLessThanOrEqualTo(Environment.ProcessorCount, cores);
    }
}
