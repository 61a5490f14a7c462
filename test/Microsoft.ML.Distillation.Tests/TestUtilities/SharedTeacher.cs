// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Tests.TestUtilities;

/// <summary>One small teacher (resnet8, 600 real images, 2 epochs), trained once per test run, for the tests that need a fitted model.</summary>
internal static class SharedTeacher
{
    private static readonly Lazy<(MLContext Ml, ITransformer Pipeline, IDataView Train)> s_model = new(() =>
    {
        var ml = new MLContext(seed: 5);
        var train = RealImages.Train(ml, 600);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Distillation.Teacher(new TeacherOptions { Architecture = "resnet8", Epochs = 2, BatchSize = 32, Seed = 5 }))
            .Fit(train);
        return (ml, pipeline, train);
    });

    public static MLContext Ml => s_model.Value.Ml;

    /// <summary>MapValueToKey("Label") followed by the teacher.</summary>
    public static TransformerChain<ImageClassifierTransformer> Pipeline => (TransformerChain<ImageClassifierTransformer>)s_model.Value.Pipeline;

    public static ImageClassifierTransformer Teacher => Pipeline.LastTransformer;

    public static IDataView Train => s_model.Value.Train;
}
