// Licensed under the MIT license. See LICENSE in the repository root.

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// The protocol-buffers wire format, as far as ONNX needs it: varints, 32-bit floats, length-delimited strings, bytes,
/// packed repeated numbers and nested messages. Writes to a stream, or only counts bytes (<see cref="CreateCounter"/>),
/// which is how <see cref="ProtoMessage.Size"/> is computed: one code path for both, so sizes cannot drift from what is written.
/// </summary>
/// <remarks>
/// Wire types: 0 = varint, 2 = length-delimited, 5 = 32-bit. A field's key is <c>(number &lt;&lt; 3) | wireType</c> as a varint.
/// Signed integers (int32/int64 fields) are written as 64-bit two's complement varints, so a negative value takes 10 bytes.
/// </remarks>
internal sealed class ProtoWriter
{
    private const int VarintWireType = 0;
    private const int LengthDelimitedWireType = 2;
    private const int Fixed32WireType = 5;

    private readonly Stream? _stream;

    private ProtoWriter(Stream? stream) => _stream = stream;

    /// <summary>Bytes written (or counted) so far.</summary>
    public long Position { get; private set; }

    /// <summary>A writer that appends to <paramref name="stream"/> (which stays open).</summary>
    public static ProtoWriter Create(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new ProtoWriter(stream);
    }

    /// <summary>A writer that writes nothing and only advances <see cref="Position"/>.</summary>
    public static ProtoWriter CreateCounter() => new(null);

    /// <summary>Writes a bare varint (no key).</summary>
    public void WriteVarint(ulong value)
    {
        Span<byte> buffer = stackalloc byte[10];
        int length = 0;
        while (value >= 0x80)
        {
            buffer[length++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[length++] = (byte)value;
        WriteRaw(buffer[..length]);
    }

    /// <summary>An int64 / int32 / enum field (omitted by callers when it holds the default they want absent).</summary>
    public void WriteInt64(int field, long value)
    {
        WriteKey(field, VarintWireType);
        WriteVarint(unchecked((ulong)value));
    }

    /// <summary>A 32-bit float field.</summary>
    public void WriteFloat(int field, float value)
    {
        WriteKey(field, Fixed32WireType);
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(buffer, value);
        WriteRaw(buffer);
    }

    /// <summary>A string field, UTF-8.</summary>
    public void WriteString(int field, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int count = Encoding.UTF8.GetByteCount(value);
        WriteKey(field, LengthDelimitedWireType);
        WriteVarint((ulong)count);
        if (_stream is null)
        {
            Position += count;
            return;
        }

        WriteRaw(Encoding.UTF8.GetBytes(value));
    }

    /// <summary>A bytes field.</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteKey(field, LengthDelimitedWireType);
        WriteVarint((ulong)value.Length);
        WriteRaw(value);
    }

    /// <summary>A bytes field holding <paramref name="values"/> as little-endian float32 (ONNX <c>raw_data</c>).</summary>
    public void WriteFloatsAsBytes(int field, ReadOnlySpan<float> values)
    {
        WriteKey(field, LengthDelimitedWireType);
        WriteVarint((ulong)values.Length * sizeof(float));
        if (_stream is null)
        {
            Position += (long)values.Length * sizeof(float);
        }
        else if (BitConverter.IsLittleEndian)
        {
            WriteRaw(MemoryMarshal.AsBytes(values));
        }
        else
        {
            Span<byte> buffer = stackalloc byte[4];
            foreach (float value in values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer, value);
                WriteRaw(buffer);
            }
        }
    }

    /// <summary>
    /// A repeated int64 field, one key per value (the proto2 encoding ONNX declares for <c>dims</c> and <c>ints</c>).
    /// </summary>
    public void WriteInt64s(int field, IReadOnlyList<long> values)
    {
        foreach (long value in values)
        {
            WriteInt64(field, value);
        }
    }

    /// <summary>A nested message field: key, length, then the message.</summary>
    public void WriteMessage(int field, ProtoMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        WriteKey(field, LengthDelimitedWireType);
        long size = message.Size;
        WriteVarint((ulong)size);
        if (_stream is null)
        {
            Position += size;
            return;
        }

        long start = Position;
        message.WriteTo(this);
        if (Position - start != size)
        {
            throw new InvalidOperationException($"{message.GetType().Name} wrote {Position - start} bytes but announced {size}.");
        }
    }

    /// <summary>Bytes a varint takes.</summary>
    public static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private void WriteKey(int field, int wireType)
    {
        if (field < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(field), field, "Protobuf field numbers start at 1.");
        }

        WriteVarint(((ulong)field << 3) | (uint)wireType);
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        _stream?.Write(bytes);
        Position += bytes.Length;
    }
}
