// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Describes a row by its visible text columns (for example the file path that LoadImages read), for error messages about
/// rows whose image could not be decoded. Runs only on the error path: it opens a fresh cursor and walks to the row.
/// </summary>
internal static class RowDescription
{
    private const int MaxValueLength = 200;

    /// <summary>e.g. <c> (ImagePath = 'cats/17.png')</c>, or an empty string when the row has no text column or cannot be read again.</summary>
    public static string Describe(IDataView data, long row, params string[] excluded)
    {
        try
        {
            var columns = data.Schema
                .Where(c => !c.IsHidden && c.Type is TextDataViewType && !excluded.Contains(c.Name))
                .ToArray();
            if (columns.Length == 0)
                return "";
            using var cursor = data.GetRowCursor(columns);
            var getters = columns.Select(c => cursor.GetGetter<ReadOnlyMemory<char>>(c)).ToArray();
            while (cursor.MoveNext())
            {
                if (cursor.Position != row)
                    continue;
                var parts = new List<string>(columns.Length);
                for (int i = 0; i < columns.Length; i++)
                {
                    ReadOnlyMemory<char> value = default;
                    getters[i](ref value);
                    string text = value.Length > MaxValueLength ? value[..MaxValueLength] + "..." : value.ToString();
                    parts.Add($"{columns[i].Name} = '{text}'");
                }
                return " (" + string.Join(", ", parts) + ")";
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            // The description is a courtesy; the original error stands on its own.
        }
        return "";
    }
}
