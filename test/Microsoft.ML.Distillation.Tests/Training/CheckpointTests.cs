// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using System.IO.Compression;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Training;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class CheckpointTests
{
    private string _folder = "";

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("distill-ckpt-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private static IDataView Keyed(MLContext ml, int rows)
    {
        var raw = RealImages.Train(ml, rows);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
    }

    private StudentOptions Options(string? dir = null, int epochs = 3, bool channelsLast = false, TrainingPrecision precision = TrainingPrecision.Float32) => new()
    {
        Architecture = "resnet8", Epochs = epochs, BatchSize = 16, Seed = 21, CheckpointDirectory = dir, CheckpointsToKeep = 2,
        ChannelsLast = channelsLast, Precision = precision,
    };

    private static void AssertSameWeights(ImageClassifierTransformer expected, ImageClassifierTransformer actual)
    {
        var e = expected.Model.Network.state_dict();
        foreach (var (name, tensor) in actual.Model.Network.state_dict())
            Assert.IsTrue(TensorAssert.Same(e[name], tensor), $"'{name}' differs from the uninterrupted run");
    }

    [TestMethod]
    public void EveryEpochWritesACheckpoint_KeepingTheNewestN()
    {
        var ml = new MLContext(seed: 1);

        using var model = ml.Distillation.Baseline(Options(_folder)).Fit(Keyed(ml, 48));

        var files = Directory.GetFiles(_folder).Select(Path.GetFileName).Order().ToArray();
        CollectionAssert.AreEqual(new[] { "baseline-epoch-0002.ckpt", "baseline-epoch-0003.ckpt" }, files, "epoch 1 pruned, no temporary files left");
    }

    /// <summary>
    /// Also with channels-last training, whose convolution weights and momentum buffers have NHWC strides while the checkpoint is
    /// written and read (until 2026-12-04 writing one failed with "Bytes() called on non-contiguous tensor"), and with bfloat16
    /// mixed precision, whose bfloat16 copy of the network is rebuilt from the restored float32 weights and statistics (where
    /// bfloat16 is not fast the option trains in float32, and the row checks that).
    /// </summary>
    [TestMethod]
    [DataRow(false, TrainingPrecision.Float32)]
    [DataRow(true, TrainingPrecision.Float32)]
    [DataRow(false, TrainingPrecision.BFloat16Mixed)]
    public void CancelledTraining_ResumesToTheSameWeightsAsAnUninterruptedRun(bool channelsLast, TrainingPrecision precision)
    {
        var ml = new MLContext(seed: 1);
        var data = Keyed(ml, 64);
        using var uninterrupted = ml.Distillation.Baseline(Options(channelsLast: channelsLast, precision: precision)).Fit(data);

        using var cts = new CancellationTokenSource();
        var first = Options(_folder, channelsLast: channelsLast, precision: precision);
        first.CancellationToken = cts.Token;
        first.MetricsCallback = m => { if (m.Epoch == 1) cts.Cancel(); };
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.Distillation.Baseline(first).Fit(data));
        CollectionAssert.AreEqual(new[] { "baseline-epoch-0001.ckpt" }, Directory.GetFiles(_folder).Select(Path.GetFileName).ToArray(),
            "the checkpoint of the finished epoch stays intact after cancellation");

        var epochs = new List<int>();
        var again = Options(_folder, channelsLast: channelsLast, precision: precision);
        again.Resume = true;
        again.MetricsCallback = m => epochs.Add(m.Epoch);
        using var resumed = ml.Distillation.Baseline(again).Fit(data);

        CollectionAssert.AreEqual(new[] { 2, 3 }, epochs, "only the epochs that were missing run");
        AssertSameWeights(uninterrupted, resumed);
    }

    /// <summary>
    /// Only a guard against a hung child process: generous, because a loaded CI machine can run the child many times slower
    /// than an idle one.
    /// </summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(20);

    [TestMethod]
    public void KilledProcess_ResumesToTheSameWeightsAsAnUninterruptedRun()
    {
        string sample = SampleDll();
        string common = $"teacher --architecture resnet8 --epochs 3 --batch-size 32 --train-rows 400 --test-rows 50 --seed 5";
        string whole = Path.Combine(_folder, "whole.zip"), resumed = Path.Combine(_folder, "resumed.zip");
        string dirA = Path.Combine(_folder, "a"), dirB = Path.Combine(_folder, "b");

        Run(sample, $"{common} --checkpoint-dir {dirA} --save {whole}");

        using (var victim = Start(sample, $"{common} --checkpoint-dir {dirB}"))
        {
            var sw = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(dirB, "teacher-epoch-0001.ckpt")) && !victim.HasExited && sw.Elapsed < HangGuard)
                Thread.Sleep(20);
            Assert.IsFalse(victim.HasExited, "the child is killed while it still trains");
            Assert.IsTrue(File.Exists(Path.Combine(dirB, "teacher-epoch-0001.ckpt")), $"the child wrote its first checkpoint within {HangGuard}");
            victim.Kill(entireProcessTree: true);
            victim.WaitForExit();
        }
        Assert.IsFalse(File.Exists(Path.Combine(dirB, "teacher-epoch-0003.ckpt")), "the child did not finish");

        Run(sample, $"{common} --checkpoint-dir {dirB} --resume --save {resumed}");

        var ml = new MLContext();
        using var a = ml.Distillation.LoadModel(whole);
        using var b = ml.Distillation.LoadModel(resumed);
        AssertSameWeights(a, b);
    }

    [TestMethod]
    public void TruncatedCheckpoint_IsRefusedNamingTheFile()
    {
        var ml = new MLContext(seed: 1);
        var data = Keyed(ml, 32);
        using (ml.Distillation.Baseline(Options(_folder, epochs: 1)).Fit(data)) { }
        string checkpoint = Directory.GetFiles(_folder).Single();
        var bytes = File.ReadAllBytes(checkpoint);
        File.WriteAllBytes(checkpoint, bytes[..(bytes.Length / 2)]);
        var again = Options(_folder, epochs: 1);
        again.Resume = true;

        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.Distillation.Baseline(again).Fit(data));

        StringAssert.Contains(e.Message, checkpoint);
        StringAssert.Contains(e.Message, "cannot be used");
    }

    [TestMethod]
    public void CheckpointOfANewerFormat_OrAnotherArchitecture_IsRefused()
    {
        var ml = new MLContext(seed: 1);
        var data = Keyed(ml, 32);
        using (ml.Distillation.Baseline(Options(_folder, epochs: 1)).Fit(data)) { }
        string checkpoint = Directory.GetFiles(_folder).Single();

        var other = Options(_folder, epochs: 1);
        other.Architecture = "resnet14";
        other.Resume = true;
        var e1 = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Baseline(other).Fit(data));
        StringAssert.Contains(e1.Message, "architecture resnet8");

        using (var zip = ZipFile.Open(checkpoint, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("checkpoint.json")!;
            string json;
            using (var reader = new StreamReader(entry.Open()))
                json = reader.ReadToEnd();
            entry.Delete();
            using var writer = new StreamWriter(zip.CreateEntry("checkpoint.json").Open());
            writer.Write(json.Replace("\"formatVersion\":1", "\"formatVersion\":99"));
        }
        var again = Options(_folder, epochs: 1);
        again.Resume = true;
        var e2 = Assert.ThrowsExactly<InvalidDataException>(() => ml.Distillation.Baseline(again).Fit(data));
        StringAssert.Contains(e2.Message, "format version 99");
    }

    private static string SampleDll()
    {
        // The test assembly sits in test/Microsoft.ML.Distillation.Tests/bin/{Configuration}/net10.0/; the sample in src/Samples/bin/same.
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        string framework = here.Name, configuration = here.Parent!.Name;
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Distillation.sln")))
            root = root.Parent;
        Assert.IsNotNull(root, "the repository root (Distillation.sln) is above the test assembly");
        string dll = Path.Combine(root.FullName, "src", "Samples", "bin", configuration, framework, "Microsoft.ML.Distillation.Samples.dll");
        Assert.IsTrue(File.Exists(dll), $"the sample is built by the test project's build: {dll}");
        return dll;
    }

    private static Process Start(string dll, string arguments)
    {
        var info = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Run(string dll, string arguments)
    {
        var info = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(HangGuard))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"sample {arguments} did not finish within {HangGuard} (about 20 s on an idle 2-core machine)");
        }

        Assert.AreEqual(0, process.ExitCode, $"sample {arguments} failed:\n{stdout.Result}\n{stderr.Result}");
    }
}
