// Licensed under the MIT license. See LICENSE in the repository root.

using System.CommandLine;
using System.Globalization;
using Microsoft.ML;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>
/// Choosing a student: one teacher, three student networks, each trained three ways (alone, KD, HSAKD), ranked on held-out images and
/// measured for cost; prints the table and the front, writes a plot and a CSV, and names the best student within a latency budget.
/// </summary>
/// <remarks>
/// <para><c>dotnet run -c Release --project src/Samples -- sweep [FOLDER]</c> runs it all in one process. On the embedded Fashion-MNIST
/// subset (2,000 training images split 80/20 into training and validation, 1,000 test images) with short schedules it takes about
/// 15 minutes on 2 cores. The teacher is saved in the folder and the sweep's state with it: run the same command again and the finished
/// trials are read back instead of retrained.</para>
/// <para>Split over processes or machines (a Slurm array, a Kubernetes Indexed Job, background processes sharing the folder):
/// <c>sweep FOLDER --prepare</c> trains the teacher once, <c>sweep FOLDER --shard i/N</c> runs the i-th of N shards, and
/// <c>sweep FOLDER --merge</c> builds the whole result. docs/sweeps.md has the job files.</para>
/// </remarks>
public static class SweepExample
{
    /// <summary>Parses the sweep command's arguments (after "sweep") and runs it.</summary>
    public static int Run(string[] args)
    {
        var folder = new Argument<string>("folder") { Description = "Output folder: the teacher, each trial's checkpoints and student, sweep.json, the table and the plot.", DefaultValueFactory = _ => Path.Combine(Environment.CurrentDirectory, "sweep-output") };
        var shard = new Option<string?>("--shard") { Description = "Run only shard i of N (0-based, written i/N) into the shared folder; needs the teacher from --prepare." };
        shard.Validators.Add(result =>
        {
            try
            {
                SweepShard.Parse(result.GetValueOrDefault<string?>() ?? "");
            }
            catch (FormatException e)
            {
                result.AddError(e.Message);
            }
        });
        var prepare = new Option<bool>("--prepare") { Description = "Only train and save the teacher (before the shards start)." };
        var merge = new Option<bool>("--merge") { Description = "Build the whole result from what the shards wrote; trains nothing." };
        var trainRows = new Option<int>("--train-rows") { Description = "Embedded images used, 80 % for training and 20 % for validation.", DefaultValueFactory = _ => 2000 };
        var studentEpochs = new Option<int>("--student-epochs") { Description = "Epochs of every candidate.", DefaultValueFactory = _ => 3 };
        var teacherEpochs = new Option<int>("--teacher-epochs") { Description = "Epochs of the resnet20 teacher.", DefaultValueFactory = _ => 3 };
        var command = new RootCommand("Choosing a student: one teacher, nine candidates, the accuracy/latency front.")
        {
            folder, shard, prepare, merge, trainRows, studentEpochs, teacherEpochs,
        };
        command.SetAction(result =>
        {
            string? shardText = result.GetValue(shard);
            return Run(result.GetValue(folder)!, shardText is null ? null : SweepShard.Parse(shardText), result.GetValue(prepare), result.GetValue(merge),
                result.GetValue(trainRows), result.GetValue(studentEpochs), result.GetValue(teacherEpochs));
        });
        return command.Parse(args).Invoke();
    }

    /// <summary>The sweep on the embedded data; see the class remarks.</summary>
    public static int Run(string outputFolder, SweepShard? shard = null, bool prepareOnly = false, bool mergeOnly = false,
        int trainRows = 2000, int studentEpochs = 3, int teacherEpochs = 3)
    {
        var ml = new MLContext(seed: 1);
        var all = FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "train", trainRows);
        var test = FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "t10k", 1000);
        var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(all);
        var split = ml.Data.TrainTestSplit(labels.Transform(all), testFraction: 0.2, seed: 1);

        // The teacher is trained once and kept in the folder: every shard, and any rerun, loads the same one.
        Directory.CreateDirectory(outputFolder);
        string teacherPath = Path.Combine(outputFolder, "teacher.zip");
        if (!File.Exists(teacherPath))
        {
            if (shard is not null || mergeOnly)
            {
                Console.Error.WriteLine($"No teacher in {outputFolder}: run 'sweep {outputFolder} --prepare' once before the shards.");
                return 2;
            }

            Console.WriteLine(FormattableString.Invariant($"Teacher resnet20 with HSAKD branches, {teacherEpochs} epochs on {trainRows * 4 / 5} images..."));
            using var trained = ml.Distillation.Teacher(new TeacherOptions { Architecture = "resnet20", Epochs = teacherEpochs, Seed = 1 }).Fit(split.TrainSet);
            trained.Save(teacherPath);
        }

        if (prepareOnly)
        {
            Console.WriteLine($"Teacher saved: {teacherPath}");
            return 0;
        }

        var candidates = StudentSweepCandidates.Cross(
            ["resnet8", "resnet14", "wrn16_1"],
            () => new StudentOptions { Epochs = studentEpochs },
            () => new KdOptions { Epochs = studentEpochs },
            () => new HsakdOptions { Epochs = studentEpochs });
        using var sweep = ml.Distillation.CreateStudentSweep(teacherPath, new StudentSweepOptions
        {
            Candidates = candidates,
            ValidationSet = split.TestSet,
            OutputFolder = outputFolder,
            Shard = shard,
            Cost = new CostMeasurementOptions { BatchSize = 32 },
            ProgressCallback = p => Console.WriteLine(
                FormattableString.Invariant($"  trial {p.Trial + 1}/{p.TrialCount} {p.Method} {p.Architecture}: epoch {p.Epoch}/{p.EpochCount}") +
                (p.EstimatedRemaining is TimeSpan eta ? FormattableString.Invariant($", about {eta.TotalMinutes:F1} min left") : "")),
        });

        using var result = mergeOnly ? sweep.Merge() : sweep.Run(split.TrainSet);
        Console.WriteLine();
        Console.WriteLine(result.ToMarkdown());
        if (shard is not null)
        {
            Console.WriteLine($"Shard {shard} done; when every shard has ended: sweep {outputFolder} --merge");
            return 0;
        }

        string plot = Path.Combine(outputFolder, "sweep.png");
        string csv = Path.Combine(outputFolder, "sweep.csv");
        result.SavePlot(plot);
        File.WriteAllText(csv, result.ToCsv());
        Console.WriteLine($"Plot: {plot}; table: {csv}");
        if (!result.Completed.Any())
            return 1;

        var fastest = result.Completed.Min(t => t.Cost!.LatencyMilliseconds!.Value);
        var budget = new SweepConstraints { MaxLatencyMilliseconds = fastest * 1.5 };
        var best = result.Best(budget) ?? result.Best()!;
        var testMetrics = ml.MulticlassClassification.Evaluate(best.Model!.Transform(labels.Transform(test)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Best within {budget.MaxLatencyMilliseconds:F2} ms/image at batch 1: {best.Method} {best.Architecture}, validation {best.ValidationAccuracy:P2}, test {testMetrics.MicroAccuracy:P2} ({best.Cost})."));
        return 0;
    }
}
