// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Crd;

/// <summary>
/// CRD's contrast indices ("exact" mode): for each sample, its own dataset row as the positive, then K rows drawn uniformly with
/// replacement from the rows of the other classes (as the reference's sampler), with a generator the caller seeds. Stores the rows
/// sorted by class (N indices, not a per-class table), so a draw j in [0, N − n_c) maps to <c>byClass[j]</c> when it lies before
/// class c's run and to <c>byClass[j + n_c]</c> otherwise.
/// </summary>
internal sealed class NegativeSampler : IDisposable
{
    private readonly Tensor _rowsByClass;
    private readonly Tensor _classStart;
    private readonly Tensor _classCount;

    /// <param name="labels">The class of every dataset row, [N], int64.</param>
    /// <param name="classCount">Number of classes C.</param>
    public NegativeSampler(Tensor labels, int classCount)
    {
        using var scope = NewDisposeScope();
        var cpuLabels = labels.to(int64).cpu();
        RowCount = cpuLabels.shape[0];
        var counts = bincount(cpuLabels, null, classCount);
        _classCount = counts.MoveToOuterDisposeScope();
        _classStart = (cumsum(counts, 0) - counts).MoveToOuterDisposeScope();
        // Sorting on (class, row) keys gives each class's rows in dataset order on every machine.
        _rowsByClass = argsort(cpuLabels * RowCount + arange(RowCount, dtype: int64)).MoveToOuterDisposeScope();
        long[] sizes = counts.data<long>().ToArray();
        FewestNegatives = RowCount - sizes.Max();
        MostNegatives = RowCount - sizes.Where(n => n > 0).DefaultIfEmpty(0).Min();
    }

    /// <summary>N, the dataset's rows.</summary>
    public long RowCount { get; }

    /// <summary>Rows of other classes for the largest class (the fewest negatives any sample has to draw from).</summary>
    public long FewestNegatives { get; }

    /// <summary>Rows of other classes for the smallest class.</summary>
    public long MostNegatives { get; }

    /// <summary>
    /// [B, K + 1] int64 on <paramref name="device"/>: column 0 the samples' own rows, columns 1..K rows of other classes.
    /// </summary>
    public Tensor Sample(Tensor rows, Tensor labels, int negatives, Generator generator, Device device)
    {
        using var scope = NewDisposeScope();
        var y = labels.to(int64).cpu();
        var start = _classStart.index_select(0, y).unsqueeze(1);
        var count = _classCount.index_select(0, y).unsqueeze(1);
        var others = RowCount - count;
        var draw = (rand(new long[] { y.shape[0], negatives }, dtype: float64, generator: generator) * others.to(float64)).floor().to(int64);
        draw = minimum(draw, others - 1);
        var position = draw + count * draw.ge(start).to(int64);
        var negativeRows = _rowsByClass.index_select(0, position.reshape(-1)).reshape(y.shape[0], negatives);
        return cat([rows.to(int64).cpu().unsqueeze(1), negativeRows], 1).to(device).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _rowsByClass.Dispose();
        _classStart.Dispose();
        _classCount.Dispose();
    }
}
