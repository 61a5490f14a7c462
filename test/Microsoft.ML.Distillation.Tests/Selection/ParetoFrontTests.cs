// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Selection;

namespace Microsoft.ML.Distillation.Tests.Selection;

[TestClass]
public sealed class ParetoFrontTests
{
    private sealed record Point(string Name, double Accuracy, double Cost);

    [TestMethod]
    public void Front_KeepsTheUndominated_WithTiesAndEqualCosts_CheapestFirst()
    {
        Point[] points =
        [
            new("A", 0.90, 10), new("B", 0.80, 5), new("C", 0.85, 10), // C: same cost as A, less accurate
            new("D", 0.90, 10),                                          // D: equal to A, so neither dominates the other
            new("E", 0.70, 5),                                           // E: same cost as B, less accurate
            new("F", 0.95, 20), new("G", 0.80, 5),                       // G: equal to B
            new("H", 0.80, 7),                                           // H: as accurate as B, costlier
        ];

        var front = ParetoFront.Of(points, p => p.Accuracy, p => p.Cost);

        CollectionAssert.AreEqual(new[] { "B", "G", "A", "D", "F" }, front.Select(p => p.Name).ToArray());
        Assert.IsEmpty(ParetoFront.Of(Array.Empty<Point>(), p => p.Accuracy, p => p.Cost));
        Assert.AreEqual("X", ParetoFront.Of([new Point("X", 0.1, 1)], p => p.Accuracy, p => p.Cost).Single().Name);
    }

    [TestMethod]
    public void Best_BreaksAccuracyTiesByFlopsThenParameters_NeverByMeasuredLatency()
    {
        SweepTrial Trial(int index, double accuracy, double flops, long parameters, double latency) => new(index, "KD", new KdOptions())
        {
            Status = SweepTrialStatus.Completed,
            ValidationAccuracy = accuracy,
            Cost = new ModelCost(parameters, flops, 1000, null, latency, latency / 4, 32, "test"),
        };
        using var result = new StudentSweepResult(
        [
            Trial(0, 0.80, 50e6, 100, 0.5), // fastest measured, but more FLOPs
            Trial(1, 0.80, 20e6, 300, 2.0),
            Trial(2, 0.80, 20e6, 200, 3.0), // same FLOPs as 1, fewer parameters: the pick
            Trial(3, 0.70, 1e6, 10, 0.1),   // cheaper on everything, less accurate
        ]);

        Assert.AreEqual(2, result.Best()!.Index);
        Assert.AreEqual(0, result.Best(new SweepConstraints { MaxLatencyMilliseconds = 1 })!.Index, "constraints still use the measured latency");
        Assert.AreEqual(3, result.Best(new SweepConstraints { MaxParameters = 50 })!.Index);
    }
}
