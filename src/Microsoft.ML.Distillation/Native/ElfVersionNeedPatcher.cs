// Licensed under the MIT license. See LICENSE in the repository root.
//
// This one file serves two builds:
//  * compiled into Microsoft.ML.Distillation (DISTILLATION_LIBRARY is defined there), where the tests reach it;
//  * compiled by MSBuild's RoslynCodeTaskFactory from buildTransitive/Microsoft.ML.Distillation.targets,
//    where the PatchLibTorchSharp task below wraps it. Keep it free of dependencies beyond the BCL.

#nullable enable

using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Microsoft.ML.Distillation.Native
{
    /// <summary>
    /// One entry of an ELF file's version-need table (<c>.gnu.version_r</c>): the library the version is needed from
    /// (e.g. <c>libstdc++.so.6</c>), the version name (e.g. <c>GLIBCXX_3.4.32</c>), the <c>vna_flags</c> field and its file offset.
    /// </summary>
    internal readonly struct ElfVersionNeed
    {
        public ElfVersionNeed(string file, string version, ushort flags, long flagsOffset)
        {
            File = file;
            Version = version;
            Flags = flags;
            FlagsOffset = flagsOffset;
        }

        public string File { get; }
        public string Version { get; }
        public ushort Flags { get; }
        public long FlagsOffset { get; }
        public bool IsWeak => (Flags & ElfVersionNeedPatcher.VersionFlagWeak) != 0;
        public override string ToString() => $"{File} {Version} flags=0x{Flags:x}";
    }

    /// <summary>What <c>ElfVersionNeedPatcher.MarkVersionNeedWeak</c> did.</summary>
    internal enum ElfPatchOutcome
    {
        /// <summary>The file does not need the version at all; it was left untouched.</summary>
        NotNeeded,
        /// <summary>The need was already weak; the file was left untouched.</summary>
        AlreadyWeak,
        /// <summary>The need was made weak.</summary>
        Patched,
    }

    /// <summary>
    /// Reads the GNU symbol-versioning tables of an ELF64 little-endian shared object and marks one needed
    /// version as weak (<c>VER_FLG_WEAK</c>), so that the dynamic loader accepts a system library that lacks it.
    /// </summary>
    /// <remarks>
    /// Why: libLibTorchSharp.so of TorchSharp 0.107 needs <c>GLIBCXX_3.4.32</c> (GCC 13's libstdc++) for a single
    /// marker symbol, <c>std::ios_base_library_init()</c>, that nothing calls. Debian 12 ships GLIBCXX_3.4.30.
    /// With the need marked weak glibc only warns in debug output and binds every other symbol normally.
    /// Layouts used (System V gABI and the LSB "Symbol Versioning" chapter):
    /// <code>
    /// Elf64_Ehdr: e_ident[16], ..., e_shoff @0x28 (u64), e_shentsize @0x3A (u16), e_shnum @0x3C (u16), e_shstrndx @0x3E (u16)
    /// Elf64_Shdr (64 bytes): sh_name u32, sh_type u32, sh_flags u64, sh_addr u64, sh_offset u64 @24, sh_size u64 @32,
    ///                        sh_link u32 @40, sh_info u32 @44, ...
    /// Elf64_Verneed (16): vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
    /// Elf64_Vernaux (16): vna_hash u32, vna_flags u16 @4, vna_other u16, vna_name u32 @8, vna_next u32 @12
    /// Elf64_Verdef  (20): vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32 @12, vd_next u32 @16
    /// Elf64_Verdaux  (8): vda_name u32, vda_next u32
    /// </code>
    /// </remarks>
    internal static class ElfVersionNeedPatcher
    {
        /// <summary><c>VER_FLG_WEAK</c>: the need is not fatal when the providing library lacks the version.</summary>
        public const ushort VersionFlagWeak = 0x2;

        /// <summary>The version that TorchSharp 0.107's native library needs and Debian 12 lacks.</summary>
        public const string TorchSharpGlibcxxVersion = "GLIBCXX_3.4.32";

        private const uint SectionTypeVersionNeed = 0x6ffffffe; // SHT_GNU_verneed
        private const uint SectionTypeVersionDef = 0x6ffffffd;  // SHT_GNU_verdef

        /// <summary>Lists every (file, version) pair the ELF file needs.</summary>
        /// <exception cref="InvalidDataException">The bytes are not a well-formed ELF64 little-endian file.</exception>
        public static IReadOnlyList<ElfVersionNeed> ReadVersionNeeds(byte[] elf, string? nameForErrors = null)
        {
            var result = new List<ElfVersionNeed>();
            foreach (var section in ReadSections(elf, nameForErrors))
            {
                if (section.Type != SectionTypeVersionNeed)
                    continue;
                var strings = GetSection(elf, section.Link, nameForErrors);
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    Require(elf, entry, 16, nameForErrors, "Elf64_Verneed");
                    ushort count = ReadU16(elf, entry + 2);
                    string file = ReadString(elf, strings, ReadU32(elf, entry + 4), nameForErrors);
                    long aux = entry + ReadU32(elf, entry + 8);
                    for (int j = 0; j < count; j++)
                    {
                        Require(elf, aux, 16, nameForErrors, "Elf64_Vernaux");
                        ushort flags = ReadU16(elf, aux + 4);
                        string version = ReadString(elf, strings, ReadU32(elf, aux + 8), nameForErrors);
                        result.Add(new ElfVersionNeed(file, version, flags, aux + 4));
                        uint nextAux = ReadU32(elf, aux + 12);
                        if (nextAux == 0)
                            break;
                        aux += nextAux;
                    }
                    uint next = ReadU32(elf, entry + 12);
                    if (next == 0)
                        break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>Lists the version names an ELF file defines (e.g. every <c>GLIBCXX_*</c> of libstdc++).</summary>
        /// <exception cref="InvalidDataException">The bytes are not a well-formed ELF64 little-endian file.</exception>
        public static IReadOnlyList<string> ReadVersionDefinitions(byte[] elf, string? nameForErrors = null)
        {
            var result = new List<string>();
            foreach (var section in ReadSections(elf, nameForErrors))
            {
                if (section.Type != SectionTypeVersionDef)
                    continue;
                var strings = GetSection(elf, section.Link, nameForErrors);
                long entry = section.Offset;
                for (uint i = 0; i < section.Info; i++)
                {
                    Require(elf, entry, 20, nameForErrors, "Elf64_Verdef");
                    ushort count = ReadU16(elf, entry + 6);
                    if (count > 0)
                    {
                        long aux = entry + ReadU32(elf, entry + 12);
                        Require(elf, aux, 8, nameForErrors, "Elf64_Verdaux");
                        result.Add(ReadString(elf, strings, ReadU32(elf, aux), nameForErrors));
                    }
                    uint next = ReadU32(elf, entry + 16);
                    if (next == 0)
                        break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>Sets <c>VER_FLG_WEAK</c> on every need of <paramref name="versionName"/>, in place.</summary>
        public static ElfPatchOutcome MarkVersionNeedWeak(byte[] elf, string versionName, string? nameForErrors = null)
        {
            bool found = false, changed = false;
            foreach (var need in ReadVersionNeeds(elf, nameForErrors))
            {
                if (need.Version != versionName)
                    continue;
                found = true;
                if (need.IsWeak)
                    continue;
                WriteU16(elf, need.FlagsOffset, (ushort)(need.Flags | VersionFlagWeak));
                changed = true;
            }
            return changed ? ElfPatchOutcome.Patched : found ? ElfPatchOutcome.AlreadyWeak : ElfPatchOutcome.NotNeeded;
        }

        /// <summary>
        /// Patches a file on disk. The file is rewritten only when something changes, through a temporary file in
        /// the same folder that replaces the original, so a failure never leaves half a library behind.
        /// </summary>
        public static ElfPatchOutcome PatchFile(string path, string versionName)
        {
            byte[] bytes = File.ReadAllBytes(path);
            var outcome = MarkVersionNeedWeak(bytes, versionName, path);
            if (outcome != ElfPatchOutcome.Patched)
                return outcome;
            string temp = path + ".patching";
            File.WriteAllBytes(temp, bytes);
            File.Replace(temp, path, destinationBackupFileName: null); // rename(2): atomic on the same file system
            return outcome;
        }

        /// <summary>
        /// True when a libstdc++ that the dynamic loader would pick defines <paramref name="versionName"/>.
        /// Looks at the usual multiarch and lib64 locations; returns false when none is found.
        /// </summary>
        public static bool SystemLibStdCxxDefines(string versionName, IEnumerable<string>? candidates = null)
        {
            foreach (var path in candidates ?? DefaultLibStdCxxPaths)
            {
                if (!File.Exists(path))
                    continue;
                var defined = ReadVersionDefinitions(File.ReadAllBytes(path), path);
                return ((ICollection<string>)defined).Contains(versionName);
            }
            return false;
        }

        /// <summary>Where Debian/Ubuntu (multiarch) and Fedora/RHEL (lib64) keep the system libstdc++.</summary>
        public static readonly string[] DefaultLibStdCxxPaths =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
        };

        private readonly struct Section
        {
            public Section(uint type, long offset, long size, uint link, uint info)
            {
                Type = type;
                Offset = offset;
                Size = size;
                Link = link;
                Info = info;
            }

            public uint Type { get; }
            public long Offset { get; }
            public long Size { get; }
            public uint Link { get; }
            public uint Info { get; }
        }

        private static List<Section> ReadSections(byte[] elf, string? name)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"{Describe(name)} is not an ELF file: it does not start with the bytes 7F 45 4C 46 ('\\x7fELF').");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"{Describe(name)} is an ELF file but not 64-bit little-endian (class {elf[4]}, data {elf[5]}); only ELF64 LE is supported.");
            long shoff = (long)ReadU64(elf, 0x28);
            int shentsize = ReadU16(elf, 0x3A);
            int shnum = ReadU16(elf, 0x3C);
            if (shnum == 0)
                return new List<Section>();
            if (shentsize < 64 || shoff <= 0 || shoff + (long)shentsize * shnum > elf.Length)
                throw new InvalidDataException($"{Describe(name)} is truncated or corrupt: its section header table (offset {shoff}, {shnum} x {shentsize} bytes) lies outside the file ({elf.Length} bytes).");
            var sections = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                var s = new Section(ReadU32(elf, h + 4), (long)ReadU64(elf, h + 24), (long)ReadU64(elf, h + 32), ReadU32(elf, h + 40), ReadU32(elf, h + 44));
                if ((s.Type == SectionTypeVersionNeed || s.Type == SectionTypeVersionDef || i == 0) && s.Offset + s.Size > elf.Length)
                    throw new InvalidDataException($"{Describe(name)} is truncated or corrupt: section {i} ends past the end of the file.");
                sections.Add(s);
            }
            return sections;
        }

        private static Section GetSection(byte[] elf, uint index, string? name)
        {
            var sections = ReadSections(elf, name);
            if (index >= sections.Count)
                throw new InvalidDataException($"{Describe(name)} is corrupt: a version table links to section {index}, but the file has {sections.Count} sections.");
            var s = sections[(int)index];
            if (s.Offset + s.Size > elf.Length)
                throw new InvalidDataException($"{Describe(name)} is truncated or corrupt: string table section {index} ends past the end of the file.");
            return s;
        }

        private static string ReadString(byte[] elf, Section strings, uint offset, string? name)
        {
            long start = strings.Offset + offset;
            if (offset >= strings.Size)
                throw new InvalidDataException($"{Describe(name)} is corrupt: a string offset ({offset}) lies outside its string table.");
            long end = start;
            long limit = strings.Offset + strings.Size;
            while (end < limit && elf[end] != 0)
                end++;
            return Encoding.ASCII.GetString(elf, (int)start, (int)(end - start));
        }

        private static void Require(byte[] elf, long offset, int size, string? name, string what)
        {
            if (offset < 0 || offset + size > elf.Length)
                throw new InvalidDataException($"{Describe(name)} is truncated or corrupt: an {what} record at offset {offset} lies outside the file.");
        }

        private static string Describe(string? name) => name is null ? "The data" : $"'{name}'";

        private static ushort ReadU16(byte[] b, long o) => (ushort)(b[o] | (b[o + 1] << 8));
        private static uint ReadU32(byte[] b, long o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
        private static ulong ReadU64(byte[] b, long o) => ReadU32(b, o) | ((ulong)ReadU32(b, o + 4) << 32);
        private static void WriteU16(byte[] b, long o, ushort v)
        {
            b[o] = (byte)v;
            b[o + 1] = (byte)(v >> 8);
        }
    }

#if !DISTILLATION_LIBRARY
    /// <summary>
    /// MSBuild task (compiled by RoslynCodeTaskFactory): makes every libLibTorchSharp.so below <see cref="Directory"/>
    /// loadable on systems whose libstdc++ lacks GLIBCXX_3.4.32. Does nothing where the system has it, or off Linux.
    /// </summary>
    public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>The output or publish folder to search.</summary>
        [Microsoft.Build.Framework.Required]
        public string Directory { get; set; } = "";

        /// <summary>Set to true to patch even where the system libstdc++ has the version (tests).</summary>
        public bool Force { get; set; }

        public override bool Execute()
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux) || !System.IO.Directory.Exists(Directory))
                return true;
            string version = ElfVersionNeedPatcher.TorchSharpGlibcxxVersion;
            try
            {
                if (!Force && ElfVersionNeedPatcher.SystemLibStdCxxDefines(version))
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, $"System libstdc++ defines {version}; libLibTorchSharp.so left as shipped.");
                    return true;
                }
                foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
                {
                    var outcome = ElfVersionNeedPatcher.PatchFile(file, version);
                    if (outcome == ElfPatchOutcome.Patched)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"Microsoft.ML.Distillation: marked {version} weak in {file} (system libstdc++ lacks it).");
                }
            }
            catch (Exception e) when (e is InvalidDataException || e is IOException || e is UnauthorizedAccessException)
            {
                Log.LogWarning($"Microsoft.ML.Distillation could not make libLibTorchSharp.so loadable: {e.Message} TorchSharp may fail to load with \"GLIBCXX_3.4.32 not found\".");
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
