// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Describes the current row of a cursor by its visible text columns (for example the file path that LoadImages read), for
/// messages about rows whose image could not be read. The text columns must be active in the cursor (open it with
/// <see cref="TextColumns"/> among its columns); a value is read only when a row is described.
/// </summary>
internal sealed class RowDescription
{
    private const int MaxValueLength = 200;

    private readonly DataViewSchema.Column[] _columns;
    private readonly ValueGetter<ReadOnlyMemory<char>>[] _getters;

    /// <summary>Prepares to describe rows of <paramref name="row"/> by <paramref name="columns"/> (from <see cref="TextColumns"/>).</summary>
    public RowDescription(DataViewRow row, DataViewSchema.Column[] columns)
    {
        _columns = columns;
        _getters = columns.Select(c => row.GetGetter<ReadOnlyMemory<char>>(c)).ToArray();
    }

    /// <summary>The visible text columns of <paramref name="schema"/>, except <paramref name="excluded"/>.</summary>
    public static DataViewSchema.Column[] TextColumns(DataViewSchema schema, params string[] excluded)
        => schema.Where(c => !c.IsHidden && c.Type is TextDataViewType && !excluded.Contains(c.Name)).ToArray();

    /// <summary>e.g. <c> (ImagePath = 'cats/17.png')</c>, or an empty string when the row has no text column or it cannot be read.</summary>
    public string Describe()
    {
        if (_columns.Length == 0)
            return "";
        try
        {
            var parts = new List<string>(_columns.Length);
            for (int i = 0; i < _columns.Length; i++)
            {
                ReadOnlyMemory<char> value = default;
                _getters[i](ref value);
                string text = value.Length > MaxValueLength ? value[..MaxValueLength] + "..." : value.ToString();
                parts.Add($"{_columns[i].Name} = '{text}'");
            }
            return " (" + string.Join(", ", parts) + ")";
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            // The description is a courtesy; the original error stands on its own.
            return "";
        }
    }
}
