// Licensed under the MIT license. See LICENSE in the repository root.

using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Transformers;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Builds <see cref="SchemaShape.Column"/> values. ML.NET 5 keeps that constructor internal (dotnet/machinelearning#3243) and offers
/// no public alternative, so this one helper reaches it by reflection; a guard test fails loudly if a future ML.NET changes it.
/// </summary>
internal static class SchemaShapeColumns
{
    private static readonly ConstructorInfo s_constructor =
        typeof(SchemaShape.Column).GetConstructor(
            BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public, null,
            new[] { typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape) }, null)
        ?? throw new MissingMethodException(
            "Microsoft.ML.Distillation needs SchemaShape.Column(string, VectorKind, DataViewType, bool, SchemaShape), which this version of Microsoft.ML does not have.");

    public static SchemaShape.Column Create(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey, SchemaShape? annotations = null)
        => (SchemaShape.Column)s_constructor.Invoke(new object?[] { name, kind, itemType, isKey, annotations });

    /// <summary>
    /// The input columns plus Score and PredictedLabel with the annotation shapes of ML.NET's multiclass trainers. Class names are
    /// always present (the label's KeyValues, or "0".."K-1").
    /// </summary>
    public static SchemaShape AppendScoreColumns(SchemaShape input, string scoreColumnName, string predictedLabelColumnName)
    {
        var columns = input.ToDictionary(c => c.Name);
        var scalarText = Create(ScoredSchema.ScoreColumnKindName, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false);
        var valueKind = Create(ScoredSchema.ScoreValueKindName, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false);
        var setId = Create(ScoredSchema.ScoreColumnSetIdName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true);
        var names = Create(ScoredSchema.TrainingLabelValuesName, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false);
        var slotNames = Create(ScoredSchema.SlotNamesName, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false);
        var keyValues = Create(ScoredSchema.KeyValuesName, SchemaShape.Column.VectorKind.Vector, TextDataViewType.Instance, false);

        columns[scoreColumnName] = Create(scoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false,
            new SchemaShape(new[] { scalarText, valueKind, setId, names, slotNames }));
        columns[predictedLabelColumnName] = Create(predictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true,
            new SchemaShape(new[] { keyValues, scalarText, valueKind, setId }));
        return new SchemaShape(columns.Values);
    }
}
