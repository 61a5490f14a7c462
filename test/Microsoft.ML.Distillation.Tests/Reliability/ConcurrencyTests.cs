// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Reliability;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ConcurrencyTests
{
    private sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [TestMethod]
    public void ScoringFromSeveralThreads_EqualsSequential()
    {
        var ml = SharedTeacher.Ml;
        var test = RealImages.Test(ml, 60);
        var rows = ml.Data.CreateEnumerable<FashionMnistImage>(test, false).ToList();
        var sequential = SharedTeacher.Pipeline.Transform(test).GetColumn<float[]>("Score").ToList();

        var viaTransform = new List<float[]>[4];
        var viaEngines = new float[4][][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            if (i < 4)
            {
                viaTransform[i] = SharedTeacher.Pipeline.Transform(test).GetColumn<float[]>("Score").ToList();
            }
            else
            {
                var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, Prediction>(SharedTeacher.Pipeline);
                viaEngines[i - 4] = rows.Select(r => engine.Predict(r).Score).ToArray();
            }
        });

        for (int t = 0; t < 4; t++)
        {
            for (int r = 0; r < rows.Count; r++)
            {
                CollectionAssert.AreEqual(sequential[r], viaTransform[t][r], $"Transform on thread {t}, row {r}");
                for (int k = 0; k < 10; k++)
                    Assert.AreEqual(sequential[r][k], viaEngines[t][r][k], 1e-5, $"PredictionEngine on thread {t}, row {r}");
            }
        }
    }
}
