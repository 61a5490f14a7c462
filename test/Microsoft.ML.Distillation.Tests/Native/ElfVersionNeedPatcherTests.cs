// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Native;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
public sealed class ElfVersionNeedPatcherTests
{
    private const string Glibcxx32 = ElfVersionNeedPatcher.TorchSharpGlibcxxVersion;

    private static string ElfPath(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", "elf", name);

    private static string CopyToTemp(string source)
    {
        string path = Path.Combine(Path.GetTempPath(), $"elf-{Guid.NewGuid():N}.so");
        File.Copy(source, path);
        return path;
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void ShippedLibTorchSharp_NeedsGlibcxx332_Strongly()
    {
        var needs = ElfVersionNeedPatcher.ReadVersionNeeds(File.ReadAllBytes(ElfPath("libLibTorchSharp.original.so")));

        var need = needs.Single(n => n.Version == Glibcxx32);
        Assert.AreEqual("libstdc++.so.6", need.File);
        Assert.IsFalse(need.IsWeak);
        Assert.IsTrue(needs.Any(n => n.Version == "GLIBC_2.3" && n.File == "ld-linux-x86-64.so.2"), "other needs are read too");
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void MarkWeak_ChangesOnlyTheFlagsOfThatNeed()
    {
        byte[] original = File.ReadAllBytes(ElfPath("libLibTorchSharp.original.so"));
        byte[] patched = (byte[])original.Clone();

        var outcome = ElfVersionNeedPatcher.MarkVersionNeedWeak(patched, Glibcxx32);

        Assert.AreEqual(ElfPatchOutcome.Patched, outcome);
        var differing = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        var need = ElfVersionNeedPatcher.ReadVersionNeeds(original).Single(n => n.Version == Glibcxx32);
        CollectionAssert.AreEqual(new[] { (int)need.FlagsOffset }, differing, "only the low byte of vna_flags changes (0 -> 2)");
        Assert.AreEqual(ElfVersionNeedPatcher.VersionFlagWeak, patched[need.FlagsOffset]);
        var after = ElfVersionNeedPatcher.ReadVersionNeeds(patched);
        Assert.IsTrue(after.Single(n => n.Version == Glibcxx32).IsWeak);
        Assert.AreEqual(1, after.Count(n => n.IsWeak), "no other need became weak");
        Assert.AreEqual(ElfPatchOutcome.AlreadyWeak, ElfVersionNeedPatcher.MarkVersionNeedWeak(patched, Glibcxx32));
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void PatchFile_LibraryThatDoesNotNeedIt_IsLeftByteIdentical()
    {
        string path = CopyToTemp(ElfPath("libc10.original.so"));
        try
        {
            byte[] before = File.ReadAllBytes(path);
            var writeTime = File.GetLastWriteTimeUtc(path);

            var outcome = ElfVersionNeedPatcher.PatchFile(path, Glibcxx32);

            Assert.AreEqual(ElfPatchOutcome.NotNeeded, outcome);
            CollectionAssert.AreEqual(before, File.ReadAllBytes(path));
            Assert.AreEqual(writeTime, File.GetLastWriteTimeUtc(path), "the file is not even rewritten");
            Assert.IsTrue(ElfVersionNeedPatcher.ReadVersionNeeds(before).Any(n => n.Version.StartsWith("GLIBCXX_", StringComparison.Ordinal)),
                "the control library does need libstdc++, just not 3.4.32");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void PatchFile_RealLibrary_IsPatchedOnDiskWithoutLeftovers()
    {
        string path = CopyToTemp(ElfPath("libLibTorchSharp.original.so"));
        try
        {
            Assert.AreEqual(ElfPatchOutcome.Patched, ElfVersionNeedPatcher.PatchFile(path, Glibcxx32));
            Assert.IsTrue(ElfVersionNeedPatcher.ReadVersionNeeds(File.ReadAllBytes(path)).Single(n => n.Version == Glibcxx32).IsWeak);
            Assert.IsFalse(File.Exists(path + ".patching"), "the temporary file is renamed away");
            Assert.AreEqual(ElfPatchOutcome.AlreadyWeak, ElfVersionNeedPatcher.PatchFile(path, Glibcxx32));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void NonElfFile_GivesClearError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"not-elf-{Guid.NewGuid():N}.so");
        File.WriteAllText(path, "this is a text file, not a shared library, padded to be longer than an ELF header ............");
        try
        {
            var e = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionNeedPatcher.PatchFile(path, Glibcxx32));
            StringAssert.Contains(e.Message, path);
            StringAssert.Contains(e.Message, "is not an ELF file");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void TruncatedElf_GivesClearError()
    {
        byte[] head = File.ReadAllBytes(ElfPath("libLibTorchSharp.original.so")).AsSpan(0, 4096).ToArray();

        var e = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionNeedPatcher.ReadVersionNeeds(head, "head.so"));

        StringAssert.Contains(e.Message, "'head.so'");
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void Elf32_IsRefused()
    {
        byte[] elf32 = new byte[64];
        elf32[0] = 0x7f; elf32[1] = (byte)'E'; elf32[2] = (byte)'L'; elf32[3] = (byte)'F';
        elf32[4] = 1; elf32[5] = 1;

        var e = Assert.ThrowsExactly<InvalidDataException>(() => ElfVersionNeedPatcher.ReadVersionNeeds(elf32, "x.so"));

        StringAssert.Contains(e.Message, "not 64-bit little-endian");
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void SystemLibStdCxx_VersionDefinitionsAreRead()
    {
        string? libstdcxx = ElfVersionNeedPatcher.DefaultLibStdCxxPaths.FirstOrDefault(File.Exists);
        Assert.IsNotNull(libstdcxx, "a libstdc++ is installed (the .NET runtime needs one)");

        var defined = ElfVersionNeedPatcher.ReadVersionDefinitions(File.ReadAllBytes(libstdcxx));

        CollectionAssert.Contains(defined.ToList(), "GLIBCXX_3.4");
        CollectionAssert.Contains(defined.ToList(), "GLIBCXX_3.4.21");
        Assert.AreEqual(defined.Contains(Glibcxx32), ElfVersionNeedPatcher.SystemLibStdCxxDefines(Glibcxx32));
        Assert.IsFalse(ElfVersionNeedPatcher.SystemLibStdCxxDefines(Glibcxx32, new[] { ElfPath("libc10.original.so") }),
            "a library that defines no GLIBCXX versions does not count as providing 3.4.32");
    }

    [TestMethod]
    [OSCondition(OperatingSystems.Linux)]
    public void BuildOutputCopy_IsPatchedExactlyWhenTheSystemLacksTheVersion()
    {
        string output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.IsTrue(File.Exists(output), "the build copies TorchSharp's native library next to the tests");

        bool weak = ElfVersionNeedPatcher.ReadVersionNeeds(File.ReadAllBytes(output)).Single(n => n.Version == Glibcxx32).IsWeak;

        Assert.AreEqual(!ElfVersionNeedPatcher.SystemLibStdCxxDefines(Glibcxx32), weak);
    }
}
