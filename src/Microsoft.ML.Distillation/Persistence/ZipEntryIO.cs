// Licensed under the MIT license. See LICENSE in the repository root.

using System.IO.Compression;
using System.Text;

namespace Microsoft.ML.Distillation.Persistence;

/// <summary>Binary zip entries for TorchSharp state dicts (model files and checkpoints share this).</summary>
internal static class ZipEntryIO
{
    /// <summary>Writes one entry through a <see cref="BinaryWriter"/> that leaves the entry stream to the zip (TorchSharp's save would close it).</summary>
    public static void Write(ZipArchive zip, string name, Action<BinaryWriter> write)
    {
        using var entry = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
        using var writer = new BinaryWriter(entry, Encoding.UTF8, leaveOpen: true);
        write(writer);
    }

    /// <summary>Reads one entry through a seekable buffer (deflate streams cannot seek; TorchSharp's readers do).</summary>
    public static void Read(ZipArchiveEntry entry, Action<BinaryReader> read)
    {
        using var buffer = new MemoryStream();
        using (var s = entry.Open())
            s.CopyTo(buffer);
        buffer.Position = 0;
        using var reader = new BinaryReader(buffer, Encoding.UTF8, leaveOpen: true);
        read(reader);
    }
}
