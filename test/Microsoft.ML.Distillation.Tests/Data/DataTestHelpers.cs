// Licensed under the MIT license. See LICENSE in the repository root.

using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Distillation.Tests.Data;

/// <summary>Tiny data views and images for the Data tests.</summary>
internal static class DataTestHelpers
{
    public static readonly MLContext Context = new(seed: 1);

    /// <summary>Asserts that <paramref name="exception"/>'s message contains every one of <paramref name="parts"/>.</summary>
    public static void AssertMentions(Exception exception, params string[] parts)
    {
        foreach (string part in parts)
        {
            Assert.IsTrue(
                exception.Message.Contains(part, StringComparison.Ordinal),
                $"Expected the message to mention \"{part}\"; it was: {exception.Message}");
        }
    }

    /// <summary>
    /// <c>SchemaShape.Create(schema)</c>, which ML.NET keeps internal; estimators get such shapes from pipelines, tests make them here.
    /// </summary>
    public static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static, [typeof(DataViewSchema)])!
            .Invoke(null, [schema])!;

    /// <summary>Maps the string column <c>Label</c> to a key fitted on <paramref name="keyData"/> (default: the data itself).</summary>
    public static IDataView WithKeyLabel(IDataView data, IDataView? keyData = null) =>
        Context.Transforms.Conversion.MapValueToKey("Label").Fit(keyData ?? data).Transform(data);

    /// <summary>Labels only, as a data view to fit key mappings on.</summary>
    public static IDataView Labels(params string[] labels) =>
        Context.Data.LoadFromEnumerable(labels.Select(l => new LabelRow { Label = l }));

    /// <summary>Writes a PNG of <paramref name="width"/> x <paramref name="height"/> opaque pixels given as RGB triples, row by row.</summary>
    public static void SavePng(string path, int width, int height, ReadOnlySpan<byte> rgb)
    {
        var rgba = new byte[width * height * 4];
        for (int i = 0; i < width * height; i++)
        {
            rgba[(4 * i) + 0] = rgb[(3 * i) + 0];
            rgba[(4 * i) + 1] = rgb[(3 * i) + 1];
            rgba[(4 * i) + 2] = rgb[(3 * i) + 2];
            rgba[(4 * i) + 3] = 255;
        }

        using MLImage image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
        image.Save(path);
    }

    /// <summary>A fresh empty folder under the temp directory.</summary>
    public static string NewTempFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "distillation-data-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    public sealed class LabelRow
    {
        public string Label { get; set; } = "";
    }

    public sealed class PathRow
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }

    public sealed class ChwSingleRow
    {
        [VectorType(3, 2, 2)]
        public float[] Image { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class FlatSingleRow
    {
        [VectorType(12)]
        public float[] Image { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class FlatByteRow
    {
        [VectorType(12)]
        public byte[] Image { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class VariableSingleRow
    {
        public float[] Image { get; set; } = [];

        public string Label { get; set; } = "";
    }

    public sealed class TextImageRow
    {
        public string Image { get; set; } = "";

        public string Label { get; set; } = "";
    }

    public sealed class MLImageRow
    {
        [ImageType(2, 2)]
        public MLImage? Image { get; set; }

        public string Label { get; set; } = "";
    }
}
