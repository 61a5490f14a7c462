// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// A protobuf message that can write itself. <see cref="Size"/> runs <see cref="WriteTo"/> against a counting writer once and
/// caches the result, so a message must not change after it is first measured.
/// </summary>
internal abstract class ProtoMessage
{
    private long _size = -1;

    /// <summary>Encoded size in bytes (without the enclosing key and length).</summary>
    public long Size
    {
        get
        {
            if (_size < 0)
            {
                var counter = ProtoWriter.CreateCounter();
                WriteTo(counter);
                _size = counter.Position;
            }

            return _size;
        }
    }

    /// <summary>Writes the fields of this message, in field-number order where it matters to nobody but readers of hex dumps.</summary>
    public abstract void WriteTo(ProtoWriter writer);
}
