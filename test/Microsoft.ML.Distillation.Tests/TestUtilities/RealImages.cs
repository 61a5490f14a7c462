// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Samples;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>Real Fashion-MNIST images from the embedded subset, as the tests need them.</summary>
internal static class RealImages
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Data", "fashion-mnist");

    /// <summary>Training rows [skip, skip + count) of the subset.</summary>
    public static IDataView Train(MLContext ml, int count, int skip = 0)
        => ml.Data.LoadFromEnumerable(FashionMnist.Read(Folder, "train", skip + count).Skip(skip).ToList());

    /// <summary>Test rows of the subset.</summary>
    public static IDataView Test(MLContext ml, int count)
        => ml.Data.LoadFromEnumerable(FashionMnist.Read(Folder, "t10k", count));

    /// <summary>
    /// Fits <c>MapValueToKey("Label")</c> followed by <paramref name="estimator"/> on the first <paramref name="trainRows"/> training
    /// images and returns the micro accuracy on the first <paramref name="testRows"/> test images, with the fitted chain.
    /// </summary>
    public static (double Accuracy, TransformerChain<ImageClassifierTransformer> Model) FitAndScore(
        MLContext ml, IEstimator<ImageClassifierTransformer> estimator, int trainRows = 600, int testRows = 300)
    {
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(estimator).Fit(Train(ml, trainRows));
        return (ml.MulticlassClassification.Evaluate(model.Transform(Test(ml, testRows))).MicroAccuracy, model);
    }

    /// <summary>Writes images as PNG files (grey replicated to RGB) and returns (file name, label) rows.</summary>
    public static List<ImageFileRow> WritePngs(string folder, int count, int skip = 0)
    {
        Directory.CreateDirectory(folder);
        var rows = new List<ImageFileRow>();
        int i = 0;
        foreach (var image in FashionMnist.Read(Folder, "train", skip + count).Skip(skip))
        {
            var rgba = new byte[28 * 28 * 4];
            for (int p = 0; p < 28 * 28; p++)
            {
                rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = image.Image[p];
                rgba[4 * p + 3] = 255;
            }
            string name = $"img{i++:D4}.png";
            using var png = MLImage.CreateFromPixels(28, 28, MLPixelFormat.Rgba32, rgba);
            png.Save(Path.Combine(folder, name));
            rows.Add(new ImageFileRow { ImagePath = name, Label = image.Label });
        }
        return rows;
    }

    /// <summary>A path to an image file and its class name.</summary>
    public sealed class ImageFileRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }
}
