// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Transformers;

/// <summary>
/// The output schema of a scoring transformer: every input column (same indices), then Score and PredictedLabel with the
/// annotations ML.NET's own multiclass trainers emit, so evaluators show class names and MapKeyToValue works.
/// </summary>
internal static class ScoredSchema
{
    internal const string ScoreColumnKindName = "ScoreColumnKind";
    internal const string ScoreValueKindName = "ScoreValueKind";
    internal const string ScoreColumnSetIdName = "ScoreColumnSetId";
    internal const string TrainingLabelValuesName = "TrainingLabelValues";
    internal const string SlotNamesName = "SlotNames";
    internal const string KeyValuesName = "KeyValues";

    public static DataViewSchema Build(DataViewSchema input, TrainedClassifier model)
    {
        int k = model.ClassCount;
        var names = new VBuffer<ReadOnlyMemory<char>>(k, model.ClassNames.Select(n => n.AsMemory()).ToArray());
        var namesType = new VectorDataViewType(TextDataViewType.Instance, k);
        uint setId = NextScoreColumnSetId(input);

        var score = new DataViewSchema.Annotations.Builder();
        score.Add(ScoreColumnKindName, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory());
        score.Add(ScoreValueKindName, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory());
        score.Add(ScoreColumnSetIdName, new KeyDataViewType(typeof(uint), int.MaxValue), (ref uint v) => v = setId);
        score.Add(TrainingLabelValuesName, namesType, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        score.Add(SlotNamesName, namesType, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));

        var predicted = new DataViewSchema.Annotations.Builder();
        predicted.Add(KeyValuesName, namesType, (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v));
        predicted.Add(ScoreColumnKindName, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory());
        predicted.Add(ScoreValueKindName, TextDataViewType.Instance, (ref ReadOnlyMemory<char> v) => v = "PredictedLabel".AsMemory());
        predicted.Add(ScoreColumnSetIdName, new KeyDataViewType(typeof(uint), int.MaxValue), (ref uint v) => v = setId);

        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        builder.AddColumn(model.ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, k), score.ToAnnotations());
        builder.AddColumn(model.PredictedLabelColumnName, new KeyDataViewType(typeof(uint), k), predicted.ToAnnotations());
        return builder.ToSchema();
    }

    private static uint NextScoreColumnSetId(DataViewSchema input)
    {
        uint max = 0;
        foreach (var column in input)
        {
            var annotation = column.Annotations.Schema.GetColumnOrNull(ScoreColumnSetIdName);
            if (annotation is { Type: KeyDataViewType { RawType: var raw } } && raw == typeof(uint))
            {
                uint id = 0;
                column.Annotations.GetValue(ScoreColumnSetIdName, ref id);
                max = Math.Max(max, id);
            }
        }
        return max + 1;
    }
}
