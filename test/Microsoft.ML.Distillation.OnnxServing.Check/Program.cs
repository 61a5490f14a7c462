// Licensed under the MIT license. See LICENSE in the repository root.

// Loads an ML.NET model zip saved after mlContext.Distillation.ConvertToOnnxScoring and scores a tab-separated file with it,
// in a process that has no TorchSharp and no Microsoft.ML.Distillation.
//
// Usage: Microsoft.ML.Distillation.OnnxServing.Check MODEL.zip INPUT.tsv
//   INPUT.tsv: a header line naming the model's input columns, then one row per example; every input column must be text
//   (for example ImagePath and Label for a LoadImages pipeline).
// Prints one JSON object: the loaded assemblies' verdict and, per row, Score and PredictedLabel (as text).

using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 2)
{
    Console.Error.WriteLine("Usage: Microsoft.ML.Distillation.OnnxServing.Check MODEL.zip INPUT.tsv");
    return 2;
}

var ml = new MLContext(seed: 0);
ITransformer model = ml.Model.Load(args[0], out DataViewSchema inputSchema);
string[] header = File.ReadLines(args[1]).First().Split('\t');
var columns = new List<TextLoader.Column>();
foreach (var column in inputSchema)
{
    if (column.Type is not TextDataViewType)
    {
        Console.Error.WriteLine($"Input column '{column.Name}' is {column.Type}; this checker reads text columns only.");
        return 2;
    }

    int index = Array.IndexOf(header, column.Name);
    if (index < 0)
    {
        Console.Error.WriteLine($"'{args[1]}' has no column '{column.Name}'.");
        return 2;
    }

    columns.Add(new TextLoader.Column(column.Name, DataKind.String, index));
}

IDataView data = ml.Data.LoadFromTextFile(args[1], [.. columns], separatorChar: '\t', hasHeader: true);
IDataView scored = model.Transform(data);
if (scored.Schema["PredictedLabel"].Type is KeyDataViewType)
{
    scored = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored).Transform(scored);
}

var rows = scored.GetColumn<float[]>("Score")
    .Zip(scored.GetColumn<ReadOnlyMemory<char>>("PredictedLabel"), (score, label) => new { Score = score, PredictedLabel = label.ToString() })
    .ToList();
var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").ToList();
var report = new
{
    TorchSharpLoaded = loaded.Any(name => name.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase)),
    DistillationLoaded = loaded.Any(name => name.StartsWith("Microsoft.ML.Distillation", StringComparison.Ordinal)
        && name != typeof(Program).Assembly.GetName().Name),
    Rows = rows,
};
Console.WriteLine(JsonSerializer.Serialize(report));
(model as IDisposable)?.Dispose();
return 0;
