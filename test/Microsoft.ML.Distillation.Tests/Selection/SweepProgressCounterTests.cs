// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Selection;

namespace Microsoft.ML.Distillation.Tests.Selection;

/// <summary>The sweep's epoch counts and time-left estimate, on a hand-driven clock.</summary>
[TestClass]
public sealed class SweepProgressCounterTests
{
    private static SweepTrial Trial(int index, string method) => new(index, method, new StudentOptions { Architecture = "resnet8", Epochs = 3 });

    [TestMethod]
    public void TimeLeft_UsesEachMethodsOwnRate_AndTheOverallRateForMethodsNotTimedYet()
    {
        var now = TimeSpan.Zero;
        var reports = new List<SweepProgress>();
        var counter = new SweepProgressCounter(new() { ["KD"] = 6, ["HSAKD"] = 3 }, () => now, trialCount: 3);
        var kd = Trial(0, "KD");

        counter.Start(kd, 0, 0, 3, reports.Add);
        Assert.IsNull(reports[^1].EstimatedRemaining, "nothing timed yet");
        Assert.AreEqual(9, reports[^1].EpochsPlanned);

        now = TimeSpan.FromSeconds(10);
        counter.Epoch(kd, 0, 1, 3, reports.Add);
        Assert.AreEqual(TimeSpan.FromSeconds(5 * 10 + 3 * 10), reports[^1].EstimatedRemaining, "HSAKD not timed: the overall 10 s");

        now = TimeSpan.FromSeconds(30);
        counter.Epoch(kd, 0, 2, 3, reports.Add);
        Assert.AreEqual(TimeSpan.FromSeconds(4 * 15 + 3 * 15), reports[^1].EstimatedRemaining, "KD: 30 s over 2 epochs");

        var hsakd = Trial(2, "HSAKD");
        counter.Start(hsakd, 2, 0, 3, reports.Add);
        now = TimeSpan.FromSeconds(90);
        counter.Epoch(hsakd, 2, 1, 3, reports.Add);
        Assert.AreEqual(TimeSpan.FromSeconds(4 * 15 + 2 * 60), reports[^1].EstimatedRemaining, "HSAKD: its own 60 s");
        Assert.AreEqual(3, reports[^1].EpochsDone);
        Assert.AreEqual(9, reports[^1].EpochsPlanned);
    }

    [TestMethod]
    public void ResumedMidTrial_TheEpochsRestoredFromTheCheckpointLeaveThePlan()
    {
        var now = TimeSpan.Zero;
        var reports = new List<SweepProgress>();
        var counter = new SweepProgressCounter(new() { ["KD"] = 6 }, () => now, trialCount: 2);
        var first = Trial(0, "KD");

        counter.Start(first, 0, 0, 3, reports.Add);
        now = TimeSpan.FromSeconds(20);
        counter.Epoch(first, 0, 3, 3, reports.Add); // epochs 1 and 2 came from the checkpoint; epoch 3 took 20 s

        Assert.AreEqual(1, reports[^1].EpochsDone);
        Assert.AreEqual(1 + 3, reports[^1].EpochsPlanned, "6 planned - 2 restored; 1 done, 3 to go");
        Assert.AreEqual(TimeSpan.FromSeconds(3 * 20), reports[^1].EstimatedRemaining, "the restored epochs are neither work left nor in the rate");
    }

    [TestMethod]
    public void LaterRungs_AreCostedAtTheOverallRate_UntilTheirSurvivorsAreKnown()
    {
        var now = TimeSpan.Zero;
        var reports = new List<SweepProgress>();
        // Successive halving over 4 candidates, rungs 1 and 3, η 2: rung 1 is 4 epochs (2 KD, 2 HSAKD); rung 3 is 2 x 2 = 4 more.
        var counter = new SweepProgressCounter(new() { ["KD"] = 2, ["HSAKD"] = 2 }, () => now, trialCount: 4, unassignedEpochs: 4);
        var kd = Trial(0, "KD");
        var hsakd = Trial(1, "HSAKD");

        counter.Start(kd, 0, 0, 3, reports.Add);
        now = TimeSpan.FromSeconds(10);
        counter.Epoch(kd, 0, 1, 3, reports.Add);
        counter.Start(hsakd, 1, 0, 3, reports.Add);
        now = TimeSpan.FromSeconds(40);
        counter.Epoch(hsakd, 1, 1, 3, reports.Add);
        Assert.AreEqual(8, reports[^1].EpochsPlanned);
        Assert.AreEqual(TimeSpan.FromSeconds(1 * 10 + 1 * 30 + 4 * 20), reports[^1].EstimatedRemaining, "4 unassigned at the overall 20 s");

        counter.Assign("HSAKD", 2); // an HSAKD candidate survives rung 1: its 2 more epochs now cost HSAKD's 30 s
        counter.Start(hsakd, 1, 1, 3, reports.Add);
        Assert.AreEqual(8, reports[^1].EpochsPlanned, "assigning moves epochs, it does not add any");
        Assert.AreEqual(TimeSpan.FromSeconds(1 * 10 + 3 * 30 + 2 * 20), reports[^1].EstimatedRemaining);
    }
}
