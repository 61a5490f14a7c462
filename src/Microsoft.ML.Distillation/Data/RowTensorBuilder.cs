// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Collects rows of a fixed shape into one CPU tensor [N, ...] without creating a tensor per row: rows are written into a
/// small managed staging buffer, which is copied in blocks into native storage that grows by doubling (or is allocated
/// exactly once when the row count is known up front).
/// </summary>
/// <remarks>Peak memory: the final tensor plus one staging block, or about twice the tensor while growing when the count is unknown.</remarks>
/// <typeparam name="T">The element type: <see cref="byte"/> or <see cref="float"/> (any type TorchSharp maps to a <see cref="ScalarType"/>).</typeparam>
internal sealed class RowTensorBuilder<T> : IDisposable
    where T : unmanaged
{
    private const int StagingBytes = 4 << 20;
    private const long MinimumCapacity = 256;

    private readonly long[] _rowDimensions;
    private readonly int _rowSize;
    private readonly ScalarType _dtype;
    private readonly T[] _staging;
    private readonly int _stagingRows;
    private int _stagedRows;
    private Tensor? _storage;
    private long _capacity;
    private long _storedRows;

    /// <summary>Creates an empty builder.</summary>
    /// <param name="rowDimensions">The shape of one row, e.g. [C, H, W].</param>
    /// <param name="expectedRows">The number of rows if known (storage is then allocated once), or 0.</param>
    public RowTensorBuilder(ReadOnlySpan<long> rowDimensions, long expectedRows = 0)
    {
        _rowDimensions = rowDimensions.ToArray();
        long rowSize = 1;
        foreach (long d in _rowDimensions)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(d, nameof(rowDimensions));
            rowSize *= d;
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(rowSize, Array.MaxLength, nameof(rowDimensions));
        _rowSize = (int)rowSize;
        _dtype = ToScalarType(typeof(T));
        int elementSize = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        _stagingRows = (int)Math.Clamp(StagingBytes / ((long)_rowSize * elementSize), 1, 4096);
        _staging = new T[(long)_stagingRows * _rowSize];
        _capacity = Math.Max(0, expectedRows);
    }

    /// <summary>Rows added so far.</summary>
    public long Count => _storedRows + _stagedRows;

    /// <summary>Adds a row and returns the span to fill with its values (valid until the next call).</summary>
    public Span<T> AddRow()
    {
        if (_stagedRows == _stagingRows)
        {
            Flush();
        }

        return _staging.AsSpan(_stagedRows++ * _rowSize, _rowSize);
    }

    /// <summary>
    /// Returns all rows as one contiguous CPU tensor [N, ...row dimensions], detached from any dispose scope: the caller owns it.
    /// The builder is empty afterwards.
    /// </summary>
    public Tensor ToTensor()
    {
        Flush();
        long[] shape = [_storedRows, .. _rowDimensions];
        Tensor result;
        if (_storage is null)
        {
            result = empty(shape, _dtype);
        }
        else if (_capacity == _storedRows)
        {
            result = _storage;
        }
        else
        {
            using Tensor used = _storage.narrow(0, 0, _storedRows);
            result = used.clone();
            _storage.Dispose();
        }

        _storage = null;
        _capacity = 0;
        _storedRows = 0;
        return result.DetachFromDisposeScope();
    }

    /// <summary>Releases the native storage if <see cref="ToTensor"/> was not called.</summary>
    public void Dispose()
    {
        _storage?.Dispose();
        _storage = null;
    }

    private void Flush()
    {
        if (_stagedRows == 0)
        {
            return;
        }

        using (NewDisposeScope())
        {
            EnsureCapacity(_storedRows + _stagedRows);
            Tensor source = frombuffer(_staging, _dtype, count: (long)_stagedRows * _rowSize).view([_stagedRows, .. _rowDimensions]);
            _storage!.narrow(0, _storedRows, _stagedRows).copy_(source);
        }

        _storedRows += _stagedRows;
        _stagedRows = 0;
    }

    private void EnsureCapacity(long rows)
    {
        if (_storage is not null && rows <= _capacity)
        {
            return;
        }

        long capacity = Math.Max(rows, Math.Max(MinimumCapacity, _storage is null ? _capacity : 2 * _capacity));
        Tensor grown = empty([capacity, .. _rowDimensions], _dtype).DetachFromDisposeScope();
        if (_storage is not null)
        {
            if (_storedRows > 0)
            {
                grown.narrow(0, 0, _storedRows).copy_(_storage.narrow(0, 0, _storedRows));
            }

            _storage.Dispose();
        }

        _storage = grown;
        _capacity = capacity;
    }

    private static ScalarType ToScalarType(Type type) => type == typeof(byte) ? ScalarType.Byte
        : type == typeof(float) ? ScalarType.Float32
        : type == typeof(long) ? ScalarType.Int64
        : type == typeof(int) ? ScalarType.Int32
        : type == typeof(double) ? ScalarType.Float64
        : throw new NotSupportedException($"No tensor element type for {type.Name}.");
}
