// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Selection;

namespace Microsoft.ML.Distillation.Tests.Selection;

[TestClass]
public sealed class SuccessiveHalvingTests
{
    [TestMethod]
    public void Rungs_DivideTheEpochsByTheFactor_DownToTheMinimum()
    {
        CollectionAssert.AreEqual(new[] { 1, 3, 9 }, SuccessiveHalving.Rungs(9, 3, 1));
        CollectionAssert.AreEqual(new[] { 1, 3, 10 }, SuccessiveHalving.Rungs(10, 3, 1));
        CollectionAssert.AreEqual(new[] { 3, 10 }, SuccessiveHalving.Rungs(10, 3, 2));
        CollectionAssert.AreEqual(new[] { 2 }, SuccessiveHalving.Rungs(2, 3, 1), "too few epochs to halve");
        CollectionAssert.AreEqual(new[] { 30, 60, 120, 240 }, SuccessiveHalving.Rungs(240, 2, 30));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SuccessiveHalving.Rungs(9, 1, 1));
    }

    [TestMethod]
    public void Run_AdvancesTheBestThirdAtEachRung_AndCountsEachEpochOnce()
    {
        // Nine candidates whose score is fixed (candidate 4 best, then 7, 1, ...); candidates 2 and 5 tie, so the earlier one wins.
        double[] quality = [0.50, 0.80, 0.60, 0.30, 0.95, 0.60, 0.10, 0.90, 0.20];
        var calls = new List<(int Candidate, int Epochs)>();

        var (outcomes, epochs) = SuccessiveHalving.Run(9, [1, 3, 9], 3, (c, e) =>
        {
            calls.Add((c, e));
            return quality[c] + e / 1000.0;
        });

        CollectionAssert.AreEqual(Enumerable.Range(0, 9).Select(c => (c, 1)).ToArray(), calls.Take(9).ToArray(), "rung 1: everyone, in order");
        CollectionAssert.AreEqual(new[] { (1, 3), (4, 3), (7, 3) }, calls.Skip(9).Take(3).ToArray(), "rung 3: the best 3 of 9");
        CollectionAssert.AreEqual(new[] { (4, 9) }, calls.Skip(12).ToArray(), "rung 9: the best 1 of 3");
        Assert.AreEqual(9 * 1 + 3 * (3 - 1) + 1 * (9 - 3), epochs);
        Assert.AreEqual(epochs, SuccessiveHalving.PlannedEpochs(9, [1, 3, 9], 3), "the plan, known before any score, is what ran");
        CollectionAssert.AreEqual(new[] { 1, 3, 1, 1, 9, 1, 1, 3, 1 }, outcomes.Select(o => o.EpochsTrained).ToArray());
        Assert.IsTrue(outcomes[4].Completed);
        Assert.AreEqual(1, outcomes.Count(o => o.Completed));

        var tied = SuccessiveHalving.Run(4, [1, 3], 2, (c, e) => c is 1 or 2 ? 0.5 : 0.1);
        CollectionAssert.AreEqual(new[] { 1, 3, 3, 1 }, tied.Outcomes.Select(o => o.EpochsTrained).ToArray(), "4 / 2 = 2 advance; the tie keeps both");
        Assert.AreEqual(4 * 1 + 2 * 2, tied.EpochsTrained);
        Assert.AreEqual(tied.EpochsTrained, SuccessiveHalving.PlannedEpochs(4, [1, 3], 2));
        Assert.AreEqual(5 * 2 + 3 * 2 + 2 * 4 + 1 * 8, SuccessiveHalving.PlannedEpochs(5, [2, 4, 8, 16], 2), "5 -> 3 -> 2 -> 1 (rounded up)");
    }

    [TestMethod]
    public void Run_StopsWhenTheBudgetSaysSo_LeavingTheRestUntrained()
    {
        int calls = 0;
        var (outcomes, epochs) = SuccessiveHalving.Run(5, [1, 3], 3, (c, e) => { calls++; return c; }, stop: () => calls >= 3);

        Assert.AreEqual(3, calls);
        Assert.AreEqual(3, epochs);
        CollectionAssert.AreEqual(new[] { 1, 1, 1, 0, 0 }, outcomes.Select(o => o.EpochsTrained).ToArray());
    }
}
