// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence.Pretrained;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.TeacherPretraining;

/// <summary>
/// A teacher that starts from PyTorch weights (<see cref="TeacherOptions.PretrainedWeightsPath"/>): the fixture is a 10-class
/// CIFAR ResNet-8 written by real PyTorch (eng/make-pretrained-fixture.py); the data are 3-channel 32x32 PNGs of 4 classes, so the
/// head is replaced.
/// </summary>
[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class PretrainedTeacherTests
{
    private const int Seed = 5;
    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "TestData", "pretrained", "resnet8.safetensors");

    private static string s_folder = "";
    private static List<RealImages.ImageFileRow> s_rows = [];

    [ClassInitialize]
    public static void WriteImages(TestContext _)
    {
        s_folder = Path.Combine(Path.GetTempPath(), $"pretrained-png-{Guid.NewGuid():N}");
        var classes = new[] { "T-shirt/top", "Trouser", "Pullover", "Dress" };
        s_rows = [.. RealImages.WritePngs(s_folder, 200).Where(r => classes.Contains(r.Label)).Take(64)];
    }

    [ClassCleanup]
    public static void DeleteImages() => Directory.Delete(s_folder, recursive: true);

    private static TeacherOptions Options(TeacherTrainingMode mode, double? factor = null) => new()
    {
        Architecture = "resnet8",
        Mode = mode,
        PretrainedWeightsPath = Fixture,
        PretrainedLearningRateFactor = factor,
        Epochs = 1,
        BatchSize = 16,
        LearningRate = 0.05,
        Seed = Seed,
        NumberOfThreads = 2,
    };

    private static ImageClassifierTransformer Fit(MLContext ml, TeacherOptions options)
    {
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", s_folder, nameof(RealImages.ImageFileRow.ImagePath)))
            .Append(ml.Transforms.ResizeImages("Image", 32, 32))
            .Append(ml.Distillation.Teacher(options));
        return pipeline.Fit(ml.Data.LoadFromEnumerable(s_rows)).LastTransformer;
    }

    /// <summary>The network the estimator starts from: created under the training seed, then the fixture loaded into it.</summary>
    private static ClassifierNetwork Start(int classes)
    {
        using var generator = random.manual_seed(Seed);
        var network = NetworkRegistry.Create("resnet8", 3, classes);
        PretrainedWeights.Load(network, Fixture);
        return network;
    }

    private static double LargestChange(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    [TestMethod]
    public void FrozenBackbone_OnPretrainedWeights_TrainsHeadAndBranches_KeepsTheRest()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        using var start = Start(classes: 4);

        var teacher = Fit(ml, Options(TeacherTrainingMode.FrozenBackbone));

        var trained = teacher.Model.Network.state_dict();
        var head = start.HeadTensorNames;
        foreach (var (name, tensor) in start.state_dict())
        {
            bool trains = head.Contains(name) || name.StartsWith("auxiliary.", StringComparison.Ordinal);
            if (trains && tensor.is_floating_point() && !name.Contains("running_", StringComparison.Ordinal))
                Assert.IsGreaterThan(1e-4, LargestChange(tensor, trained[name]), $"'{name}' trains");
            else if (!trains)
                Assert.IsTrue(TensorAssert.Same(tensor, trained[name]), $"backbone '{name}' stays as the file gave it (frozen, BN statistics included)");
        }
        Assert.IsTrue(log.Any(m => m.Contains("main head replaced (10 classes in the file, 4 here)", StringComparison.Ordinal)), "the log says the head was replaced");
    }

    [TestMethod]
    public void Joint_PretrainedPartTrainsAtItsFactor_FreshPartsAtTheFullRate()
    {
        var ml = new MLContext(seed: 1);
        using var start = Start(classes: 4);

        var teacher = Fit(ml, Options(TeacherTrainingMode.Joint, factor: 1e-8));

        var trained = teacher.Model.Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var head = start.HeadTensorNames;
        foreach (var (name, parameter) in start.named_parameters())
        {
            double change = LargestChange(parameter, trained[name]);
            if (head.Contains(name) || name.StartsWith("auxiliary.", StringComparison.Ordinal))
                Assert.IsGreaterThan(1e-4, change, $"fresh '{name}' trains at the full rate");
            else
                Assert.IsLessThan(1e-6, change, $"pretrained '{name}' trains at 1e-8 of the rate (moved {change:E2})");
        }
    }

    [TestMethod]
    public void KeepInitialAuxiliaryBranches_StartsTheBranchesFromTheSavedModel()
    {
        var ml = new MLContext(seed: 1);
        string path = Path.Combine(Path.GetTempPath(), $"step1-{Guid.NewGuid():N}.zip");
        try
        {
            var step1 = Fit(ml, Options(TeacherTrainingMode.FrozenBackbone));
            step1.Save(path);
            var options = Options(TeacherTrainingMode.Joint, factor: 1e-8);
            options.PretrainedWeightsPath = null;
            options.InitialModelPath = path;
            options.KeepInitialAuxiliaryBranches = true;

            var step2 = Fit(ml, options);

            var saved = step1.Model.Network.Auxiliary.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in step2.Model.Network.Auxiliary.named_parameters())
                Assert.IsLessThan(1e-6, LargestChange(parameter, saved[name]), $"auxiliary '{name}' starts from step 1 and barely moves at factor 1e-8");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void FileForThreeChannels_OnGreyImages_IsRefusedNamingTheOptionAndTheTensor()
    {
        var ml = new MLContext(seed: 1);
        var options = Options(TeacherTrainingMode.Joint);

        var e = Assert.ThrowsExactly<ArgumentException>(() =>
            ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Distillation.Teacher(options)).Fit(RealImages.Train(ml, 32)));

        Assert.AreEqual(nameof(TeacherOptions.PretrainedWeightsPath), e.ParamName);
        StringAssert.Contains(e.Message, "mis-shaped: backbone.conv1.weight: file [16, 3, 3, 3], network [16, 1, 3, 3]");
    }

    [TestMethod]
    public void ContradictoryOrMissingSettings_AreRefusedBeforeTraining()
    {
        var ml = new MLContext();
        var both = Options(TeacherTrainingMode.Joint);
        both.InitialModelPath = Fixture;
        var keep = Options(TeacherTrainingMode.Joint);
        keep.KeepInitialAuxiliaryBranches = true;
        var absent = Options(TeacherTrainingMode.Joint);
        absent.PretrainedWeightsPath = "/nonexistent/resnet8.pth";

        Assert.AreEqual(nameof(TeacherOptions.PretrainedWeightsPath),
            Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Teacher(both)).ParamName);
        Assert.AreEqual(nameof(TeacherOptions.KeepInitialAuxiliaryBranches),
            Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.Teacher(keep)).ParamName);
        Assert.AreEqual(nameof(TeacherOptions.PretrainedLearningRateFactor),
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Distillation.Teacher(Options(TeacherTrainingMode.Joint, factor: 0))).ParamName);
        StringAssert.Contains(Assert.ThrowsExactly<FileNotFoundException>(() => ml.Distillation.Teacher(absent)).Message,
            "PretrainedWeightsPath: no file at '/nonexistent/resnet8.pth'");
    }
}
