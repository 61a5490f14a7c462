// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Training;

namespace Microsoft.ML.Distillation.Tests.Training;

[TestClass]
public sealed class LearningRateScheduleTests
{
    [TestMethod]
    public void MultiStep_DecaysAtEachMilestone()
    {
        var schedule = new LearningRateSchedule(0.05, new[] { 150, 180, 210 }, 0.1);

        Assert.AreEqual(0.05, schedule.At(0), 1e-12);
        Assert.AreEqual(0.05, schedule.At(149), 1e-12);
        Assert.AreEqual(0.005, schedule.At(150), 1e-12);
        Assert.AreEqual(0.0005, schedule.At(180), 1e-12);
        Assert.AreEqual(0.00005, schedule.At(239), 1e-12);
    }

    [TestMethod]
    public void DefaultMilestones_ScaleThePapersSchedule()
    {
        CollectionAssert.AreEqual(new[] { 150, 180, 210 }, LearningRateSchedule.ScaledDefaultMilestones(240));
        CollectionAssert.AreEqual(new[] { 6, 7, 8 }, LearningRateSchedule.ScaledDefaultMilestones(10));
        CollectionAssert.AreEqual(Array.Empty<int>(), LearningRateSchedule.ScaledDefaultMilestones(1));
    }
}
