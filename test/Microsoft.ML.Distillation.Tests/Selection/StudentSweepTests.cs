// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Selection;

[TestClass]
[DoNotParallelize]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class StudentSweepTests
{
    private static IDataView Keyed(IDataView raw) => SharedTeacher.Pipeline.First().Transform(raw);

    private static readonly CostMeasurementOptions QuickCost = new() { BatchSize = 4, Repetitions = 2, WarmupRepetitions = 1 };

    private static T Small<T>(T options, int epochs = 1, int seed = 3) where T : StudentOptions
    {
        options.Architecture = "resnet8";
        options.Epochs = epochs;
        options.BatchSize = 32;
        options.Seed = seed;
        return options;
    }

    [TestMethod]
    public void Sweep_TrainsEachCandidate_LeavesOutUnpairableOnes_AndReportsTheFrontTablesAndPlot()
    {
        var ml = SharedTeacher.Ml;
        var train = Keyed(RealImages.Train(ml, 96));
        var validation = Keyed(RealImages.Test(ml, 64));
        var baseline = Small(new StudentOptions());
        var kd = Small(new KdOptions());
        var unpairable = Small(new HsakdOptions());
        unpairable.Architecture = "vgg8";   // 4 auxiliary branches; the resnet8 teacher has 3
        var progress = new List<SweepProgress>();
        var options = new StudentSweepOptions
        {
            Candidates = [baseline, kd, unpairable], ValidationSet = validation, Cost = QuickCost, ProgressCallback = progress.Add,
        };

        using var result = ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, options).Run(train);

        CollectionAssert.AreEqual(new[] { "Baseline", "KD", "HSAKD" }, result.Trials.Select(t => t.Method).ToArray());
        CollectionAssert.AreEqual(new[] { SweepTrialStatus.Completed, SweepTrialStatus.Completed, SweepTrialStatus.Skipped }, result.Trials.Select(t => t.Status).ToArray());
        StringAssert.Contains(result.Trials[2].Reason, "cannot pair with the teacher");
        foreach (var t in result.Trials.Take(2))
        {
            Assert.IsNotNull(t.Model);
            Assert.AreEqual(t.Model.InferenceParameterCount, t.Cost!.Parameters);
            var metrics = ml.MulticlassClassification.Evaluate(t.Model.Transform(validation));
            Assert.AreEqual(metrics.MicroAccuracy, t.ValidationAccuracy!.Value, 1e-9, "the engine's validation accuracy is the evaluator's");
            Assert.IsTrue(t.TrainingSeconds > 0 && t.PeakMemoryBytes > 0 && t.EpochsTrained == 1);
        }
        Assert.IsNull(baseline.ValidationSet, "the candidates given are not changed");
        Assert.IsNull(kd.MetricsCallback);
        Assert.AreEqual(2, progress.Count(p => p.Epoch == 1));
        Assert.IsTrue(progress.All(p => p.TrialCount == 2));

        var best = result.Best();
        Assert.AreEqual(result.Completed.Max(t => t.ValidationAccuracy), best!.ValidationAccuracy);
        Assert.IsNull(result.Best(new SweepConstraints { MaxParameters = 10 }), "no student has 10 parameters or fewer");
        Assert.IsTrue(result.ParetoFront().Contains(best), "the most accurate trial is on every front");
        string markdown = result.ToMarkdown();
        StringAssert.Contains(markdown, "| 2 | HSAKD | vgg8 | Skipped: cannot pair with the teacher");
        var csv = result.ToCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.HasCount(4, csv);
        StringAssert.StartsWith(csv[1], "0,Baseline,resnet8,Completed,,1,");
        string png = Path.Combine(Path.GetTempPath(), $"sweep-{Guid.NewGuid():N}.png");
        try
        {
            result.SavePlot(png, SweepCostAxis.Parameters);
            CollectionAssert.AreEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(png).Take(4).ToArray());
        }
        finally
        {
            File.Delete(png);
        }
    }

    [TestMethod]
    public void Sweep_StoppedMidTrial_ResumesFromItsFolder_WithoutRetrainingFinishedTrials_AndGivesTheSameStudents()
    {
        var ml = SharedTeacher.Ml;
        var train = Keyed(RealImages.Train(ml, 64));
        var validation = Keyed(RealImages.Test(ml, 32));
        string folder = Directory.CreateTempSubdirectory("distill-sweep-").FullName;
        try
        {
            StudentSweepOptions Options(string? output, CancellationToken token = default, Action<SweepProgress>? progress = null) => new()
            {
                Candidates = [Small(new StudentOptions(), epochs: 2), Small(new KdOptions(), epochs: 2)],
                ValidationSet = validation, OutputFolder = output, Cost = QuickCost, CancellationToken = token, ProgressCallback = progress,
            };

            using var uninterrupted = ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, Options(null)).Run(train);
            using var cts = new CancellationTokenSource();
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher,
                Options(folder, cts.Token, p => { if (p.Trial == 1 && p.Epoch == 1) cts.Cancel(); })).Run(train));
            var resumedProgress = new List<SweepProgress>();
            using var resumed = ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, Options(folder, progress: resumedProgress.Add)).Run(train);

            Assert.IsFalse(resumedProgress.Any(p => p.Trial == 0 && p.Epoch > 0), "the finished trial was not trained again");
            CollectionAssert.AreEqual(new[] { 1, 2 }, resumedProgress.Where(p => p.Trial == 1).Select(p => p.Epoch).ToArray(),
                "the interrupted trial's start report says it continues from its epoch-1 checkpoint; then it trains epoch 2");
            var restart = resumedProgress.First(p => p.Trial == 1);
            Assert.AreEqual(0, restart.EpochsDone);
            Assert.AreEqual(1, restart.EpochsPlanned, "only trial 1's second epoch is left to train in this process");
            for (int i = 0; i < 2; i++)
            {
                Assert.AreEqual(uninterrupted.Trials[i].ValidationAccuracy, resumed.Trials[i].ValidationAccuracy);
                var expected = uninterrupted.Trials[i].Model!.Model.Network.state_dict();
                foreach (var (name, tensor) in resumed.Trials[i].Model!.Model.Network.state_dict())
                    Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"trial {i}: '{name}' differs from the uninterrupted sweep");
            }
            Assert.IsTrue(File.Exists(Path.Combine(folder, "sweep.json")));
            Assert.IsTrue(File.Exists(resumed.Trials[0].ModelPath));

            var other = new StudentSweepOptions { Candidates = [Small(new KdOptions(), epochs: 3)], ValidationSet = validation, OutputFolder = folder };
            var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, other).Run(train));
            Assert.AreEqual(nameof(StudentSweepOptions.OutputFolder), e.ParamName);

            // A method setting changed at the same position is another candidate too: its old result must not be reused.
            var hotter = Options(folder);
            ((KdOptions)hotter.Candidates[1]).Temperature = 2;
            e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, hotter).Run(train));
            StringAssert.Contains(e.Message, "trial 1 was");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void SuccessiveHalving_ExtendsTheWinnerFromItsRungCheckpoint_ToTheSameStudentAsAnUninterruptedRun()
    {
        var ml = SharedTeacher.Ml;
        var train = Keyed(RealImages.Train(ml, 64));
        var validation = Keyed(RealImages.Test(ml, 32));
        var options = new StudentSweepOptions
        {
            Candidates = [Small(new StudentOptions(), epochs: 3), Small(new KdOptions(), epochs: 3), Small(new KdOptions { Temperature = 2 }, epochs: 3)],
            ValidationSet = validation, Strategy = SweepStrategy.SuccessiveHalving, Cost = QuickCost,
        };

        using var result = ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, options).Run(train);

        var completed = result.Trials.Single(t => t.Status == SweepTrialStatus.Completed);
        Assert.HasCount(2, result.Trials.Where(t => t.Status == SweepTrialStatus.Stopped && t.EpochsTrained == 1));
        Assert.AreEqual(3, completed.EpochsTrained);
        var plain = (StudentOptions)completed.Options.ShallowCopy();
        plain.ValidationSet = validation;
        using var uninterrupted = ml.Distillation.Distill(SharedTeacher.Teacher, plain).Fit(train);
        var expected = uninterrupted.Model.Network.state_dict();
        foreach (var (name, tensor) in completed.Model!.Model.Network.state_dict())
            Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}': stopped at epoch 1 and continued differs from 3 epochs straight");

        // Stopped between trial 0's rung checkpoint and the sweep's record of it (the user's token is cancelled from the progress report
        // of that epoch, which follows the checkpoint): the resumed sweep takes the rung from the checkpoint instead of training past it.
        string folder = Directory.CreateTempSubdirectory("distill-sh-").FullName;
        try
        {
            options.OutputFolder = folder;
            using var cts = new CancellationTokenSource();
            options.CancellationToken = cts.Token;
            options.ProgressCallback = p => { if (p.Trial == 0 && p.Epoch == 1) cts.Cancel(); };
            Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, options).Run(train));
            var resumedProgress = new List<SweepProgress>();
            options.CancellationToken = default;
            options.ProgressCallback = resumedProgress.Add;
            using var resumed = ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, options).Run(train);

            for (int i = 0; i < result.Trials.Count; i++)
            {
                Assert.AreEqual(result.Trials[i].Status, resumed.Trials[i].Status, $"trial {i}");
                Assert.AreEqual(result.Trials[i].EpochsTrained, resumed.Trials[i].EpochsTrained, $"trial {i}");
                Assert.AreEqual(result.Trials[i].ValidationAccuracy, resumed.Trials[i].ValidationAccuracy, $"trial {i}: accuracy at its last epoch");
            }
            var trial0Epochs = resumedProgress.Where(p => p.Trial == 0 && p.Epoch > 0).Select(p => p.Epoch).ToArray();
            CollectionAssert.AreEqual(result.Trials[0].Status == SweepTrialStatus.Completed ? new[] { 2, 3 } : Array.Empty<int>(), trial0Epochs,
                "trial 0 trains no epoch for its rung again; only a winner continues, from epoch 2");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        var mixed = new StudentSweepOptions { Candidates = [Small(new KdOptions(), epochs: 2), Small(new KdOptions(), epochs: 3)], ValidationSet = validation, Strategy = SweepStrategy.SuccessiveHalving };
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, mixed));
        StringAssert.Contains(e.Message, "same Epochs");
    }

    [TestMethod]
    public void TwoShardsAndAMerge_GiveTheSingleProcessSweep_AndTheTeacherHeadTrainsOncePerSweep_EvenAcrossProcesses()
    {
        var ml = SharedTeacher.Ml;
        var train = Keyed(RealImages.Train(ml, 64));
        var validation = Keyed(RealImages.Test(ml, 32));
        string root = Directory.CreateTempSubdirectory("distill-shards-").FullName;
        try
        {
            string teacherPath = Path.Combine(root, "teacher.zip");
            SharedTeacher.Teacher.Save(teacherPath);
            int headEpochs = 0;
            void Count(TrainingMetrics m)
            {
                if (m.Phase == "SSKD teacher head")
                    headEpochs++;
            }

            StudentSweepOptions Options(string folder, SweepShard? shard = null)
            {
                var wide = Small(new SskdOptions { TeacherHeadEpochs = 1, MetricsCallback = Count });
                wide.Architecture = "wrn16_1";
                return new()
                {
                    Candidates = [Small(new StudentOptions()), Small(new SskdOptions { TeacherHeadEpochs = 1, MetricsCallback = Count }), wide, Small(new KdOptions())],
                    ValidationSet = validation, OutputFolder = Path.Combine(root, folder), Shard = shard, Cost = QuickCost,
                };
            }

            // Each sweep loads the teacher from the file again, as a separate process would.
            using var single = ml.Distillation.CreateStudentSweep(teacherPath, Options("single")).Run(train);
            Assert.AreEqual(1, headEpochs, "the two SSKD students share one teacher-head stage");

            headEpochs = 0;
            using (var first = ml.Distillation.CreateStudentSweep(teacherPath, Options("shared", SweepShard.Parse("0/2"))).Run(train))
            {
                CollectionAssert.AreEqual(new[] { SweepTrialStatus.Completed, SweepTrialStatus.Skipped, SweepTrialStatus.Completed, SweepTrialStatus.Skipped },
                    first.Trials.Select(t => t.Status).ToArray());
                Assert.AreEqual("in shard 1/2", first.Trials[1].Reason);
            }
            using (var early = ml.Distillation.CreateStudentSweep(teacherPath, Options("shared")).Merge())
            {
                Assert.AreEqual("not finished by any shard yet", early.Trials[3].Reason);
                Assert.AreEqual(SweepTrialStatus.Completed, early.Trials[2].Status);
            }
            using (var second = ml.Distillation.CreateStudentSweep(teacherPath, Options("shared", SweepShard.Parse("1/2"))).Run(train))
                Assert.AreEqual(SweepTrialStatus.Completed, second.Trials[3].Status);
            Assert.AreEqual(1, headEpochs, "shard 1's SSKD student read the head shard 0 trained from the shared folder");
            Assert.HasCount(1, Directory.GetFiles(Path.Combine(root, "shared", "teacher-stages")));

            using var merged = ml.Distillation.CreateStudentSweep(teacherPath, Options("shared")).Merge();
            for (int i = 0; i < 4; i++)
            {
                Assert.AreEqual(SweepTrialStatus.Completed, merged.Trials[i].Status, $"trial {i}");
                Assert.AreEqual(single.Trials[i].ValidationAccuracy, merged.Trials[i].ValidationAccuracy, $"trial {i}");
                var expected = single.Trials[i].Model!.Model.Network.state_dict();
                foreach (var (name, tensor) in merged.Trials[i].Model!.Model.Network.state_dict())
                    Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"trial {i}: '{name}' differs between one process and two shards");
            }
            Assert.AreEqual(single.Best()!.Index, merged.Best()!.Index);
            Assert.IsTrue(File.Exists(Path.Combine(root, "shared", "sweep.json")), "the merge writes the whole sweep's file");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void SweepFromAPath_OwnsItsTeacher_ASweepFromAnObjectDoesNot()
    {
        var ml = SharedTeacher.Ml;
        var validation = Keyed(RealImages.Test(ml, 8));
        string teacherPath = Path.Combine(Path.GetTempPath(), $"sweep-teacher-{Guid.NewGuid():N}.zip");
        SharedTeacher.Teacher.Save(teacherPath);
        try
        {
            var options = new StudentSweepOptions { Candidates = [Small(new StudentOptions())], ValidationSet = validation, Cost = QuickCost };
            var sweep = ml.Distillation.CreateStudentSweep(teacherPath, options);
            var loaded = (ImageClassifierTransformer)sweep.Teacher;
            var weight = loaded.Model.Network.parameters().First();
            Assert.IsFalse(weight.IsInvalid);

            sweep.Dispose();
            sweep.Dispose(); // twice is harmless

            Assert.IsTrue(weight.IsInvalid, "disposing the sweep frees the teacher it loaded");
            Assert.ThrowsExactly<ObjectDisposedException>(() => sweep.Run(validation));
            Assert.ThrowsExactly<ObjectDisposedException>(() => sweep.Merge());

            using (var borrowing = ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, options))
            {
            }
            Assert.IsFalse(SharedTeacher.Teacher.Model.Network.parameters().First().IsInvalid, "a teacher passed as an object stays the caller's");

            // A refused option fails while the sweep is built, from a path too (the catalog then disposes the teacher it loaded; not observable here).
            var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.CreateStudentSweep(teacherPath, new StudentSweepOptions { Candidates = [], ValidationSet = validation }));
            StringAssert.Contains(e.Message, "Candidates must hold at least one student's options.");
        }
        finally
        {
            File.Delete(teacherPath);
        }
    }

    [TestMethod]
    public void Shards_AreParsedAndChecked_WithMessagesNamingTheOption()
    {
        Assert.AreEqual(new SweepShard(2, 4), SweepShard.Parse("2/4"));
        foreach (string bad in new[] { "4/4", "-1/4", "1", "a/b", "0/0" })
            StringAssert.Contains(Assert.ThrowsExactly<FormatException>(() => SweepShard.Parse(bad)).Message, $"'{bad}'");

        var validation = Keyed(RealImages.Test(SharedTeacher.Ml, 8));
        var noFolder = new StudentSweepOptions { Candidates = [Small(new KdOptions())], ValidationSet = validation, Shard = new SweepShard(0, 2) };
        var e = Assert.ThrowsExactly<ArgumentException>(() => SharedTeacher.Ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, noFolder));
        Assert.AreEqual(nameof(StudentSweepOptions.Shard), e.ParamName);
        StringAssert.Contains(e.Message, "OutputFolder");

        var halving = new StudentSweepOptions
        {
            Candidates = [Small(new KdOptions())], ValidationSet = validation, Shard = new SweepShard(0, 2), OutputFolder = Path.GetTempPath(),
            Strategy = SweepStrategy.SuccessiveHalving,
        };
        e = Assert.ThrowsExactly<ArgumentException>(() => SharedTeacher.Ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher, halving));
        Assert.AreEqual(nameof(StudentSweepOptions.Shard), e.ParamName);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SharedTeacher.Ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher,
            new StudentSweepOptions { Candidates = [Small(new KdOptions())], ValidationSet = validation, Shard = new SweepShard(3, 2), OutputFolder = Path.GetTempPath() }));
        var merge = Assert.ThrowsExactly<InvalidOperationException>(() => SharedTeacher.Ml.Distillation.CreateStudentSweep(SharedTeacher.Teacher,
            new StudentSweepOptions { Candidates = [Small(new KdOptions())], ValidationSet = validation }).Merge());
        StringAssert.Contains(merge.Message, "OutputFolder");
    }
}
