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

    [TestMethod]
    public void ScaledMilestones_DropMilestonesAtZero_AndDecayOncePerEpoch()
    {
        double[] head = [0.5, 0.75];   // SSKD's stage 2: 30 and 45 of 60 epochs

        CollectionAssert.AreEqual(new[] { 30, 45 }, LearningRateSchedule.ScaledMilestones(60, head));
        CollectionAssert.AreEqual(Array.Empty<int>(), LearningRateSchedule.ScaledMilestones(1, head), "both round to 0: a 1-epoch stage keeps its rate");
        CollectionAssert.AreEqual(new[] { 1 }, LearningRateSchedule.ScaledMilestones(2, head), "both round to 1: one decay, not two");
        CollectionAssert.AreEqual(new[] { 1, 2 }, LearningRateSchedule.ScaledMilestones(3, head));
        CollectionAssert.AreEqual(new[] { 1, 2 }, LearningRateSchedule.ScaledDefaultMilestones(3));
        CollectionAssert.AreEqual(new[] { 1 }, LearningRateSchedule.ScaledDefaultMilestones(2));
    }

    [TestMethod]
    public void Warmup_RisesLinearlyStepByStep_ToTheScheduledRate_ThenFollowsTheMilestones()
    {
        var schedule = new LearningRateSchedule(0.1, [2], 0.1, warmupEpochs: 2);   // 4 steps an epoch: 8 warm-up steps

        Assert.AreEqual(0.1 / 8, schedule.At(0, 0, 4), 1e-15, "first step: one eighth");
        Assert.AreEqual(0.1 * 4 / 8, schedule.At(0, 3, 4), 1e-15);
        Assert.AreEqual(0.1 * 7 / 8, schedule.At(1, 2, 4), 1e-15);
        Assert.AreEqual(0.1, schedule.At(1, 3, 4), 1e-15, "the warm-up's last step reaches the scheduled rate");
        Assert.AreEqual(0.01, schedule.At(2, 0, 4), 1e-15, "after the warm-up: the milestones");
        Assert.AreEqual(0.1, new LearningRateSchedule(0.1, [], 0.1).At(0, 0, 4), "no warm-up by default");
    }

    [TestMethod]
    public void OneEpochSskdTeacherHeadStage_TrainsAtItsOwnLearningRate()
    {
        var ml = TestUtilities.SharedTeacher.Ml;
        var phases = new List<TrainingMetrics>();
        var options = new SskdOptions
        {
            Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 31, TeacherHeadEpochs = 1, TeacherHeadLearningRate = 0.04,
            MetricsCallback = phases.Add,
        };

        ml.Distillation.Sskd(TestUtilities.SharedTeacher.Teacher, options)
            .Fit(TestUtilities.SharedTeacher.Pipeline.First().Transform(TestUtilities.RealImages.Train(ml, 64)));

        var head = phases.Single(m => m.Phase == "SSKD teacher head");
        Assert.AreEqual(0.04, head.LearningRate, 1e-12, "a 1-epoch stage whose milestones round to 0 trains at its initial rate");
        Assert.AreEqual(0.05, phases.Single(m => m.Phase == "SSKD").LearningRate, 1e-12);
    }
}
