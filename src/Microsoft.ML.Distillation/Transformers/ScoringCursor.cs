// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;

namespace Microsoft.ML.Distillation.Transformers;

/// <summary>Getters of the two appended columns, for rows and cursors alike.</summary>
internal static class ScoreGetters
{
    public static ValueGetter<TValue> Create<TValue>(DataViewSchema.Column column, int inputCount, TrainedClassifier model, Func<ReadOnlySpan<float>> current)
    {
        if (column.Index == inputCount)
        {
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' is a vector of Single (VBuffer<float>); it was read as {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> score = (ref VBuffer<float> dst) =>
            {
                var probs = current();
                var editor = VBufferEditor.Create(ref dst, probs.Length);
                probs.CopyTo(editor.Values);
                dst = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)score;
        }
        if (typeof(TValue) != typeof(uint))
            throw new InvalidOperationException($"Column '{column.Name}' is a key (UInt32); it was read as {typeof(TValue).Name}.");
        ValueGetter<uint> predicted = (ref uint dst) =>
        {
            var probs = current();
            int best = 0;
            for (int i = 1; i < probs.Length; i++)
            {
                if (probs[i] > probs[best])
                    best = i;
            }
            dst = (uint)(best + 1);
        };
        return (ValueGetter<TValue>)(Delegate)predicted;
    }
}

/// <summary>Cursor of <see cref="ScoredDataView"/>: passes the input's columns through and computes Score and PredictedLabel.</summary>
internal sealed class ScoringCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly TrainedClassifier _model;
    private readonly bool _scoreActive;
    private readonly ScoreSource? _scores;

    public ScoringCursor(DataViewSchema schema, DataViewRowCursor input, DataViewRowCursor? lookAhead, TrainedClassifier model, ImageColumnInfo image,
        bool scoreActive, int batchSize)
    {
        Schema = schema;
        _input = input;
        _model = model;
        _scoreActive = scoreActive;
        if (scoreActive)
            _scores = lookAhead is null ? new RowByRowScoreSource(input, model, image) : new BatchedScoreSource(lookAhead, model, image, batchSize);
    }

    public override DataViewSchema Schema { get; }

    public override long Position => _input.Position;

    public override long Batch => _input.Batch;

    public override bool MoveNext() => _input.MoveNext();

    public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column)
        => column.Index < _input.Schema.Count ? _input.IsColumnActive(_input.Schema[column.Index]) : _scoreActive;

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        int inputCount = _input.Schema.Count;
        if (column.Index < inputCount)
            return _input.GetGetter<TValue>(_input.Schema[column.Index]);
        if (_scores is null)
            throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
        var scores = _scores;
        return ScoreGetters.Create<TValue>(column, inputCount, _model, () => scores.At(_input.Position));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            (_scores as IDisposable)?.Dispose();
            _input.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Row mapper for <c>CreatePredictionEngine</c> and other row-at-a-time consumers.</summary>
internal sealed class ScoringRowMapper : IRowToRowMapper
{
    private readonly TrainedClassifier _model;
    private readonly ImageColumnInfo _image;

    public ScoringRowMapper(DataViewSchema inputSchema, TrainedClassifier model, ImageColumnInfo image)
    {
        InputSchema = inputSchema;
        _model = model;
        _image = image;
        OutputSchema = ScoredSchema.Build(inputSchema, model);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
        => ScoringColumns.Resolve(InputSchema, dependingColumns, _image, out _);

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        bool scoreActive = activeColumns.Any(c => c.Index >= InputSchema.Count);
        return new ScoringRow(OutputSchema, input, _model, _image, scoreActive);
    }

    private sealed class ScoringRow : DataViewRow
    {
        private readonly DataViewRow _input;
        private readonly TrainedClassifier _model;
        private readonly ScoreSource? _scores;

        public ScoringRow(DataViewSchema schema, DataViewRow input, TrainedClassifier model, ImageColumnInfo image, bool scoreActive)
        {
            Schema = schema;
            _input = input;
            _model = model;
            if (scoreActive)
                _scores = new RowByRowScoreSource(input, model, image);
        }

        public override DataViewSchema Schema { get; }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index < _input.Schema.Count ? _input.IsColumnActive(_input.Schema[column.Index]) : _scores is not null;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = _input.Schema.Count;
            if (column.Index < inputCount)
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            if (_scores is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was created.");
            var scores = _scores;
            return ScoreGetters.Create<TValue>(column, inputCount, _model, () => scores.At(_input.Position));
        }
    }
}
