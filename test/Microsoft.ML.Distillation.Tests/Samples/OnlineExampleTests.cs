// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Samples;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class OnlineExampleTests
{
    [TestMethod]
    public void OnlineExample_TrainsTwoPeers_AndScoresTheOneTheValidationSetPicked()
    {
        var lines = new List<string>();
        var (metrics, selected) = OnlineExample.Run(OnlineMethod.Mcl, trainRows: 400, validationRows: 200, testRows: 200, epochs: 2, log: lines.Add);

        var peers = lines.Where(l => l.StartsWith("peer ", StringComparison.Ordinal)).ToArray();
        Assert.HasCount(2, peers, string.Join(" | ", lines));
        // The returned peer is the one with the best validation accuracy (printed rounded to 0.01 %, which keeps the order).
        double[] printed = [.. peers.Select(l => double.Parse(
            System.Text.RegularExpressions.Regex.Match(l, @"validation accuracy ([0-9.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];
        Assert.IsTrue(selected is 0 or 1, $"selected {selected}");
        Assert.IsGreaterThanOrEqualTo(printed[1 - selected], printed[selected], $"peer {selected} was returned: {string.Join(" | ", peers)}");
        Assert.IsGreaterThan(0.2, metrics.MicroAccuracy, $"10 classes: chance is 0.10, got {metrics.MicroAccuracy:P1}");
    }
}
