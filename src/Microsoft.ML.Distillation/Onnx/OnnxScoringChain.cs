// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// Builds the chain of ML.NET's own public, savable transformers that computes what an <see cref="ImageClassifierTransformer"/>
/// computes, with the network running in ONNX Runtime:
/// <list type="number">
/// <item>the image column as planar float pixels: ExtractPixels (RGB planes, 0..255) for <c>MLImage</c>, ConvertType to Single for
/// byte vectors, CopyColumns for float vectors;</item>
/// <item>ApplyOnnxModel with the graph of <see cref="OnnxExporter.ForMLNetScoring"/> (normalisation, network, softmax, arg-max),
/// producing the Score column and the class index as a one-slot int64 vector;</item>
/// <item>Hash with <c>combine</c>, the one public transform that turns a vector into a scalar, applied to that one-slot vector;</item>
/// <item>MapValue from those hashes to the class names with <c>treatValuesAsKeyType</c>: PredictedLabel, a key of K values whose
/// KeyValues are the class names in the model's order;</item>
/// <item>DropColumns of the three intermediate columns.</item>
/// </list>
/// </summary>
/// <remarks>
/// Why the hash step: ML.NET's OnnxTransformer reads every ONNX output as a vector (a declared scalar output fails when read), and
/// no other public transform maps a vector to a scalar, while PredictedLabel must be a scalar key for evaluators, MapKeyToValue and
/// prediction engines. Hashing the one-slot index is exact: the K hashes are computed here with the very transformer that is saved,
/// and checked to be distinct (another seed is tried otherwise).
/// </remarks>
internal static class OnnxScoringChain
{
    /// <summary>Intermediate column: planar float pixels fed to ONNX (dropped at the end).</summary>
    internal const string PixelsColumn = "DistillationOnnxPixels";

    /// <summary>Intermediate column: the arg-max class index, Vector&lt;Int64, 1&gt; (dropped at the end).</summary>
    internal const string ClassIndexColumn = "DistillationOnnxClassIndex";

    /// <summary>Intermediate column: the scalar hash of the class index (dropped at the end).</summary>
    internal const string ClassHashColumn = "DistillationOnnxClassHash";

    private const int HashBits = 31;

    /// <summary>Builds and fits the chain (fitting reads no rows).</summary>
    public static TransformerChain<ITransformer> Build(MLContext mlContext, TrainedClassifier model)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        CheckColumnNames(model);

        var schemaSource = EmptyView(model.ImageColumn, model.Shape);
        using var onnx = new MemoryStream();
        OnnxExporter.ForMLNetScoring(model, PixelsColumn, model.ScoreColumnName, ClassIndexColumn).WriteTo(onnx);

        TransformerChain<OnnxTransformer> pixelsAndScores;
        try
        {
            pixelsAndScores = PixelStep(mlContext, model.ImageColumn)
                .Append(mlContext.Transforms.ApplyOnnxModel(
                    outputColumnNames: [model.ScoreColumnName, ClassIndexColumn],
                    inputColumnNames: [PixelsColumn],
                    modelBytes: new MemoryStream(onnx.ToArray(), writable: false)))
                .Fit(schemaSource);
        }
        catch (Exception e) when (IsNativeLoadFailure(e))
        {
            throw new InvalidOperationException(
                "ONNX Runtime's native library could not be loaded. Add the Microsoft.ML.OnnxRuntime package (or Microsoft.ML.OnnxRuntime.Gpu) " +
                "to the application: Microsoft.ML.OnnxTransformer brings only the managed part, as in any ML.NET app that uses ApplyOnnxModel.", e);
        }

        try
        {
            return AppendLabeling(mlContext, model, schemaSource, pixelsAndScores);
        }
        catch
        {
            pixelsAndScores.Dispose();
            throw;
        }
    }

    /// <summary>Hash + MapValue (PredictedLabel) and DropColumns after the ONNX step; returns the whole chain.</summary>
    private static TransformerChain<ITransformer> AppendLabeling(
        MLContext mlContext, TrainedClassifier model, IDataView schemaSource, TransformerChain<OnnxTransformer> pixelsAndScores)
    {
        for (uint attempt = 0; ; attempt++)
        {
            uint seed = 314489979u + attempt;
            var hashing = mlContext.Transforms.Conversion.Hash(
                new HashingEstimator.ColumnOptions(ClassHashColumn, ClassIndexColumn, numberOfBits: HashBits, seed: seed, combine: true));
            var hasher = hashing.Fit(pixelsAndScores.Transform(schemaSource));
            uint[] hashes = HashesOfClassIndices(mlContext, hasher, model.ClassCount);
            if (hashes.Distinct().Count() != hashes.Length || hashes.Contains(0u))
            {
                if (attempt >= 16)
                {
                    throw new InvalidOperationException("Could not find a hash seed that separates the class indices.");
                }

                continue;
            }

            var pairs = hashes.Select((hash, i) => new KeyValuePair<uint, string>(hash, model.ClassNames[i])).ToArray();
            var labeling = mlContext.Transforms.Conversion.MapValue(model.PredictedLabelColumnName, pairs, ClassHashColumn, treatValuesAsKeyType: true)
                .Append(mlContext.Transforms.DropColumns(PixelsColumn, ClassIndexColumn, ClassHashColumn));
            var afterHash = hasher.Transform(pixelsAndScores.Transform(schemaSource));
            var labeler = labeling.Fit(afterHash);

            return new TransformerChain<ITransformer>([.. pixelsAndScores, hasher, .. labeler]);
        }
    }

    /// <summary>The first step: the image column as a float vector of C x H x W raw pixel values in <see cref="PixelsColumn"/>.</summary>
    private static IEstimator<ITransformer> PixelStep(MLContext mlContext, ImageColumnInfo image) => image.Kind switch
    {
        // Planar R, G, B with values 0..255: what PixelDecoding feeds the network at training time.
        ImageColumnKind.Image => mlContext.Transforms.ExtractPixels(
            PixelsColumn, image.Name,
            colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
            orderOfExtraction: ImagePixelExtractingEstimator.ColorsOrder.ARGB,
            interleavePixelColors: false,
            offsetImage: 0f,
            scaleImage: 1f,
            outputAsFloatArray: true),
        ImageColumnKind.ByteVector => mlContext.Transforms.Conversion.ConvertType(PixelsColumn, image.Name, DataKind.Single),
        ImageColumnKind.SingleVector => mlContext.Transforms.CopyColumns(PixelsColumn, image.Name),
        _ => throw new NotSupportedException($"Image column kind {image.Kind} has no ONNX scoring chain."),
    };

    /// <summary>The hash that <paramref name="hasher"/> gives to each class index 0..K-1 held as a one-slot int64 vector.</summary>
    private static uint[] HashesOfClassIndices(MLContext mlContext, ITransformer hasher, int classCount)
    {
        var definition = SchemaDefinition.Create(typeof(ClassIndexRow));
        definition[0].ColumnName = ClassIndexColumn;
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Int64, 1);
        var indices = mlContext.Data.LoadFromEnumerable(
            Enumerable.Range(0, classCount).Select(i => new ClassIndexRow { Index = [i] }), definition);
        return [.. hasher.Transform(indices).GetColumn<uint>(ClassHashColumn)];
    }

    /// <summary>A view with no rows and one column: the image column, typed as the model expects it. Enough to fit every step.</summary>
    private static EmptyDataView EmptyView(ImageColumnInfo image, ImageShape shape)
    {
        DataViewType type = image.Kind switch
        {
            ImageColumnKind.Image => new ImageDataViewType(shape.Height, shape.Width),
            ImageColumnKind.ByteVector => new VectorDataViewType(NumberDataViewType.Byte, shape.Size),
            _ => new VectorDataViewType(NumberDataViewType.Single, shape.Size),
        };
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(image.Name, type);
        return new EmptyDataView(builder.ToSchema());
    }

    private static bool IsNativeLoadFailure(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
                return true;
            }
        }

        return false;
    }

    private static void CheckColumnNames(TrainedClassifier model)
    {
        string[] reserved = [PixelsColumn, ClassIndexColumn, ClassHashColumn];
        foreach (string name in new[] { model.ImageColumn.Name, model.ScoreColumnName, model.PredictedLabelColumnName })
        {
            if (reserved.Contains(name, StringComparer.Ordinal))
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"The column name '{name}' is used by the ONNX scoring chain for an intermediate column; rename the model's columns."));
            }
        }
    }

    private sealed class ClassIndexRow
    {
        public long[] Index { get; set; } = [];
    }
}
