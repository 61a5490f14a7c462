// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;

namespace Microsoft.ML.Distillation.Transformers;

/// <summary>The lazy result of <c>Transform</c>: the input view plus Score and PredictedLabel, computed on demand.</summary>
internal sealed class ScoredDataView : IDataView
{
    private readonly IDataView _input;
    private readonly TrainedClassifier _model;
    private readonly ImageColumnInfo _image;
    private readonly int _batchSize;

    public ScoredDataView(IDataView input, TrainedClassifier model, ImageColumnInfo image, int batchSize)
    {
        _input = input;
        _model = model;
        _image = image;
        _batchSize = Math.Max(1, batchSize);
        Schema = ScoredSchema.Build(input.Schema, model);
    }

    public bool CanShuffle => _input.CanShuffle;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = ScoringColumns.Resolve(_input.Schema, columnsNeeded, _image, out bool scoreActive);
        var inputCursor = _input.GetRowCursor(active, rand);
        // A second, unshuffled cursor that runs ahead and fills a batch: rows come in the same order in both
        // (IDataView repeatability), so one forward pass serves many rows. Shuffled cursors score row by row.
        DataViewRowCursor? lookAhead = scoreActive && rand is null && _batchSize > 1
            ? _input.GetRowCursor(new[] { _input.Schema[_image.Name] })
            : null;
        return new ScoringCursor(Schema, inputCursor, lookAhead, _model, _image, scoreActive, _batchSize);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };
}

/// <summary>Column bookkeeping shared by the data view and the row mapper.</summary>
internal static class ScoringColumns
{
    /// <summary>Which input columns must be active to serve <paramref name="needed"/> output columns.</summary>
    public static List<DataViewSchema.Column> Resolve(DataViewSchema input, IEnumerable<DataViewSchema.Column> needed,
        ImageColumnInfo image, out bool scoreActive)
    {
        int inputCount = input.Count;
        var active = new List<DataViewSchema.Column>();
        scoreActive = false;
        foreach (var column in needed)
        {
            if (column.Index < inputCount)
                active.Add(input[column.Index]);
            else
                scoreActive = true;
        }
        if (scoreActive)
        {
            var column = input[image.Name];
            if (!active.Any(c => c.Index == column.Index))
                active.Add(column);
        }
        return active;
    }
}
