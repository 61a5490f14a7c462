// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;

namespace Microsoft.ML.Distillation.Transformers;

/// <summary>Gives the class probabilities of the row at a given position of a cursor.</summary>
internal abstract class ScoreSource
{
    protected ScoreSource(TrainedClassifier model, int capacity)
    {
        Model = model;
        Pixels = new float[capacity * model.Shape.Size];
        Probabilities = new float[capacity * model.ClassCount];
    }

    protected TrainedClassifier Model { get; }
    protected float[] Pixels { get; }
    protected float[] Probabilities { get; }

    /// <summary>The K probabilities of the row at <paramref name="position"/> (the position the consuming cursor is on).</summary>
    public abstract ReadOnlySpan<float> At(long position);
}

/// <summary>One forward pass per row, reading the image from the consuming row itself (shuffled cursors, PredictionEngine).</summary>
internal sealed class RowByRowScoreSource : ScoreSource
{
    private readonly ImageRowReader _reader;
    private long _position = -1;

    public RowByRowScoreSource(DataViewRow row, TrainedClassifier model, ImageColumnInfo image)
        : base(model, 1)
    {
        _reader = new ImageRowReader(row, image);
    }

    public override ReadOnlySpan<float> At(long position)
    {
        if (position != _position)
        {
            _reader.Read<float>(Pixels);
            Model.Score(Pixels, 1, Probabilities);
            _position = position;
        }
        return Probabilities.AsSpan(0, Model.ClassCount);
    }
}

/// <summary>
/// Batched scoring: a look-ahead cursor over the same view, in the same order, reads up to B images from the requested
/// position on and scores them in one forward pass. Rows the consumer skips without asking are skipped here too.
/// </summary>
internal sealed class BatchedScoreSource : ScoreSource, IDisposable
{
    private readonly DataViewRowCursor _lookAhead;
    private readonly ImageRowReader _reader;
    private readonly int _batchSize;
    private long _start = -1;
    private int _count;

    public BatchedScoreSource(DataViewRowCursor lookAhead, TrainedClassifier model, ImageColumnInfo image, int batchSize)
        : base(model, batchSize)
    {
        _lookAhead = lookAhead;
        _batchSize = batchSize;
        _reader = new ImageRowReader(lookAhead, image);
    }

    public override ReadOnlySpan<float> At(long position)
    {
        if (position < _start || position >= _start + _count)
            Fill(position);
        int k = Model.ClassCount;
        return Probabilities.AsSpan((int)(position - _start) * k, k);
    }

    private void Fill(long position)
    {
        if (_lookAhead.Position >= position)
            throw new InvalidOperationException(
                $"Scoring went back to row {position} after row {_lookAhead.Position}: the input view does not give rows in a repeatable order. " +
                "Set ScoringBatchSize = 1 on the transformer to score row by row.");
        while (_lookAhead.Position < position)
        {
            if (!_lookAhead.MoveNext())
                throw new InvalidOperationException($"The input view has fewer rows than the cursor being scored (row {position} is missing on a second pass).");
        }
        int size = Model.Shape.Size;
        int count = 0;
        do
        {
            _reader.Read<float>(Pixels.AsSpan(count * size, size));
            count++;
        }
        while (count < _batchSize && _lookAhead.MoveNext());
        Model.Score(Pixels, count, Probabilities);
        _start = position;
        _count = count;
    }

    public void Dispose() => _lookAhead.Dispose();
}
