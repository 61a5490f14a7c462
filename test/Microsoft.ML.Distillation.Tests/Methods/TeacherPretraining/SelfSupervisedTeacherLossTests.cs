// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Methods.TeacherPretraining;

namespace Microsoft.ML.Distillation.Tests.Methods.TeacherPretraining;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class SelfSupervisedTeacherLossTests
{
    [TestMethod]
    public void SoftenedKl_MatchesHandComputedValue()
    {
        // One row, two classes, T = 2. s = [0, 0] -> p_s = [0.5, 0.5]; t = [2 ln 3, 0] -> p_t = softmax([ln 3, 0]) = [0.75, 0.25].
        // KL = 0.75 ln(0.75/0.5) + 0.25 ln(0.25/0.5) = 0.130812..., times T^2 = 4 -> 0.523248...
        using var s = tensor(new float[] { 0, 0 }).reshape(1, 2);
        using var t = tensor(new float[] { (float)(2 * Math.Log(3)), 0 }).reshape(1, 2);

        using var kl = LossFunctions.SoftenedKl(s, t, 2.0);

        double expected = 4 * (0.75 * Math.Log(1.5) + 0.25 * Math.Log(0.5));
        Assert.AreEqual(expected, kl.item<float>(), 1e-5);
    }

    [TestMethod]
    public void SoftenedKl_IsBatchMean_AndZeroForIdenticalLogits()
    {
        using var s = tensor(new float[] { 0, 0, 1, 2 }).reshape(2, 2);
        using var t = tensor(new float[] { (float)(2 * Math.Log(3)), 0, 1, 2 }).reshape(2, 2);

        using var kl = LossFunctions.SoftenedKl(s, t, 2.0);

        double first = 4 * (0.75 * Math.Log(1.5) + 0.25 * Math.Log(0.5));
        Assert.AreEqual(first / 2, kl.item<float>(), 1e-5, "second row contributes 0; mean over 2 rows");
    }

    [TestMethod]
    public void TeacherLoss_IsCeOnOriginalRows_PlusAuxCeOnJointLabels()
    {
        // B = 2 samples x 4 rotations = 8 rows, K = 3 classes, one aux head with 12 outputs.
        var logits = arange(24, dtype: ScalarType.Float32).reshape(8, 3) / 10;
        var aux = arange(96, dtype: ScalarType.Float32).reshape(8, 12).remainder(7) / 5;
        var labels = tensor(new long[] { 2, 0 });
        var joint = tensor(new long[] { 8, 9, 10, 11, 0, 1, 2, 3 });
        var output = new NetworkOutput(logits, zeros(8, 4), new[] { zeros(8, 1, 1, 1) }, new[] { aux });

        var result = new SelfSupervisedTeacherLoss().Compute(new LossBatch(output, null, labels, joint, 4));

        double ce = (CrossEntropyByHand(logits, 0, 2) + CrossEntropyByHand(logits, 4, 0)) / 2;
        double auxCe = Enumerable.Range(0, 8).Select(r => CrossEntropyByHand(aux, r, (int)joint[r].item<long>())).Average();
        Assert.AreEqual(ce, result.Terms[0].Value.item<float>(), 1e-5, "main CE over rows 0 and 4 only");
        Assert.AreEqual(auxCe, result.Terms[1].Value.item<float>(), 1e-5, "aux CE over all 8 rows with joint labels");
        Assert.AreEqual(ce + auxCe, result.Total.item<float>(), 1e-5);
    }

    private static double CrossEntropyByHand(Tensor logits, int row, int target)
    {
        var z = logits[row].data<float>().ToArray().Select(v => (double)v).ToArray();
        double max = z.Max();
        double logSum = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
        return logSum - z[target];
    }
}
