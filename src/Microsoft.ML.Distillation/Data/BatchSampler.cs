// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Splits a dataset into mini-batches: each epoch a seeded permutation of the rows (the same seed and epoch always give the same
/// order, whatever ran before), and batch i gathered from the CPU tensors with <c>index_select</c>.
/// </summary>
/// <remarks>
/// The last, partial batch is kept by default (every row is seen each epoch). With <c>dropLast</c> it is dropped, unless the
/// dataset is smaller than one batch, in which case that one partial batch is kept so that an epoch is never empty.
/// </remarks>
internal sealed class BatchSampler
{
    /// <summary>Creates the sampler.</summary>
    /// <param name="rowCount">Rows in the dataset (N &gt; 0).</param>
    /// <param name="batchSize">Rows per batch (&gt; 0).</param>
    /// <param name="seed">Seed of the permutations.</param>
    /// <param name="shuffle">False for the identity order (validation, scoring).</param>
    /// <param name="dropLast">Drop the last, partial batch (see remarks).</param>
    public BatchSampler(int rowCount, int batchSize, int seed, bool shuffle = true, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        RowCount = rowCount;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        BatchCount = dropLast && rowCount >= batchSize ? rowCount / batchSize : (rowCount + batchSize - 1) / batchSize;
    }

    /// <summary>N: rows in the dataset.</summary>
    public int RowCount { get; }

    /// <summary>Rows per batch (the last batch may have fewer unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; }

    /// <summary>Seed of the permutations.</summary>
    public int Seed { get; }

    /// <summary>Whether each epoch has its own permutation (otherwise rows go in order).</summary>
    public bool Shuffle { get; }

    /// <summary>Whether the last, partial batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount { get; }

    /// <summary>The order of rows in an epoch: a permutation of 0..N-1 from a <see cref="Random"/> seeded by (seed, epoch) (Fisher–Yates).</summary>
    public int[] Order(int epoch)
    {
        var order = new int[RowCount];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        if (Shuffle)
        {
            // Written out (not Random.Shuffle) so that the order depends only on Random(int)'s documented-stable sequence.
            var random = new Random(SeedDerivation.Derive(Seed, epoch));
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }

        return order;
    }

    /// <summary>The rows of batch <paramref name="batchIndex"/> within <paramref name="order"/>.</summary>
    public ReadOnlySpan<int> BatchRows(ReadOnlySpan<int> order, int batchIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(batchIndex, BatchCount);
        if (order.Length != RowCount)
        {
            throw new ArgumentException($"Expected an order of {RowCount} rows, got {order.Length}.", nameof(order));
        }

        int start = batchIndex * BatchSize;
        return order.Slice(start, Math.Min(BatchSize, RowCount - start));
    }

    /// <summary>
    /// Gathers batch <paramref name="batchIndex"/> of an epoch's <paramref name="order"/>: raw images [B, C, H, W] (the dataset's
    /// dtype) and labels [B] (int64), on the CPU, in the caller's dispose scope.
    /// </summary>
    public (Tensor Images, Tensor Labels) GetBatch(ImageTensorDataset dataset, ReadOnlySpan<int> order, int batchIndex)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count != RowCount)
        {
            throw new ArgumentException($"The sampler is for {RowCount} rows; the dataset has {dataset.Count}.", nameof(dataset));
        }

        ReadOnlySpan<int> rows = BatchRows(order, batchIndex);
        var indices = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            indices[i] = rows[i];
        }

        using var scope = NewDisposeScope();
        Tensor index = tensor(indices, ScalarType.Int64);
        Tensor images = dataset.Images.index_select(0, index);
        Tensor labels = dataset.Labels.index_select(0, index);
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}
