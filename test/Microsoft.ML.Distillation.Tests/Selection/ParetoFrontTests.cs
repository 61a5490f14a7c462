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
}
