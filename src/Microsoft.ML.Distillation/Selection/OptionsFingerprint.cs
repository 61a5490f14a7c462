// Licensed under the MIT license. See LICENSE in the repository root.

using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.Distillation.Selection;

/// <summary>
/// A short hash of every setting an options object holds (its public fields and those of nested option objects: numbers, strings,
/// enums, booleans and arrays of them), so that a sweep resumed with a changed setting does not reuse a trial trained with the old
/// one. Callbacks, data views, cancellation tokens and the checkpoint settings the sweep overrides are left out.
/// </summary>
internal static class OptionsFingerprint
{
    private static readonly HashSet<string> s_ignored = [nameof(TrainingOptions.CheckpointDirectory), nameof(TrainingOptions.Resume)];

    public static string Of(object options)
    {
        var text = new StringBuilder();
        Append(text, options, depth: 0);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16];
    }

    private static void Append(StringBuilder text, object? value, int depth)
    {
        switch (value)
        {
            case null:
                text.Append("null;");
                return;
            case string s:
                text.Append('"').Append(s).Append("\";");
                return;
            case IFormattable f when value.GetType().IsPrimitive || value is decimal || value.GetType().IsEnum:
                text.Append(f.ToString(null, CultureInfo.InvariantCulture)).Append(';');
                return;
            case bool b:
                text.Append(b ? "true;" : "false;");
                return;
            case IEnumerable items when value.GetType().IsArray || value is IList:
                text.Append('[');
                foreach (var item in items)
                    Append(text, item, depth + 1);
                text.Append("];");
                return;
        }

        var type = value.GetType();
        if (depth > 4 || type.Namespace != typeof(TrainingOptions).Namespace || !type.IsClass)
            return;
        text.Append(type.Name).Append('{');
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Instance).OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (s_ignored.Contains(field.Name) || typeof(Delegate).IsAssignableFrom(field.FieldType) || field.FieldType == typeof(IDataView)
                || field.FieldType == typeof(CancellationToken))
                continue;
            text.Append(field.Name).Append('=');
            Append(text, field.GetValue(value), depth + 1);
        }

        text.Append("};");
    }
}
