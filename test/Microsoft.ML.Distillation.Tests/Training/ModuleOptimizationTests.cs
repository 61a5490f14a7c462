// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Training;

/// <summary>A loss's own parameters trained with other optimiser settings than the network's (<see cref="ModuleOptimization"/>).</summary>
[TestClass]
public sealed class ModuleOptimizationTests
{
    private static readonly float[] Start = [1f, -2f, 3f];

    /// <summary>A module parameter p that enters the loss as 0 · Σp: its gradient is 0, so only weight decay moves it.</summary>
    private sealed class ModuleLoss(ModuleOptimization? optimization) : IDistillationLoss
    {
        public TorchSharp.Modules.ParameterDict Module { get; } = new() { { "p", new TorchSharp.Modules.Parameter(tensor(Start)) } };
        public IReadOnlyList<string> TermNames { get; } = ["ce"];
        public bool RequiresTeacher => false;
        public bool UsesAuxiliaryBranches => false;
        public bool UsesRotations => false;
        public nn.Module? TrainableModule => Module;
        public ModuleOptimization? TrainableModuleOptimization => optimization;

        public LossResult Compute(LossBatch batch)
        {
            var ce = LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels) + Module["p"].sum() * 0;
            return new LossResult(ce, [new("ce", ce)]);
        }
    }

    /// <summary>One step (4 rows, batch 4) at lr 0.1, Nesterov momentum 0.9, weight decay 0.01; the module's p and the network after it.</summary>
    private static (float[] P, Dictionary<string, Tensor> Network) Step(ModuleOptimization? optimization)
    {
        using var data = SyntheticImages.Dataset(rows: 4, size: 8, classes: 3, seed: 5);
        var loss = new ModuleLoss(optimization);
        manual_seed(1);
        using var student = NetworkRegistry.Create("resnet8", 3, data.ClassCount, rotationCount: 1);
        using var normalization = ChannelNormalization.FromValues([120f, 110f, 100f], [60f, 70f, 65f], 3);
        var settings = new TrainingSettings
        {
            Phase = "test", Epochs = 1, BatchSize = 4, Schedule = new LearningRateSchedule(0.1, [], 0.1), Momentum = 0.9,
            Nesterov = true, WeightDecay = 0.01, Seed = 2, Device = CPU, RandomCropPadding = 0, HorizontalFlip = false,
        };
        using var channel = ((IHostEnvironment)new MLContext(seed: 1)).Register("test").Start("test");
        new TrainingEngine(channel, null).Run(student, null, loss, data, null, normalization, settings);
        // Copies: the state dict's tensors belong to the network, which is disposed here (and could otherwise be finalised by the
        // GC while the caller still compares them, which made this test fail once with "empty handle").
        return (loss.Module["p"].detach().data<float>().ToArray(), student.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()));
    }

    [TestMethod]
    public void ModuleParameters_FollowTheirOwnWeightDecayAndLearningRate_WhileTheNetworkKeepsItsOwn()
    {
        // Nesterov SGD's first step with a zero gradient: d = wd · p, buffer = d, p ← p − lr · (d + m · buffer) = p · (1 − lr · (1 + m) · wd).
        var (shared, sharedNetwork) = Step(null);
        var (noDecay, noDecayNetwork) = Step(new ModuleOptimization(WeightDecay: 0));
        var (own, _) = Step(new ModuleOptimization(LearningRateFactor: 3, WeightDecay: 0.02));

        for (int i = 0; i < Start.Length; i++)
        {
            Assert.AreEqual(Start[i] * (1 - 0.1 * 1.9 * 0.01), shared[i], 1e-6, "the network's settings");
            Assert.AreEqual(Start[i], noDecay[i], 0.0, "weight decay 0: unchanged");
            Assert.AreEqual(Start[i] * (1 - 0.3 * 1.9 * 0.02), own[i], 1e-6, "3 x the rate, decay 0.02");
        }
        foreach (var (name, tensor) in sharedNetwork)
            Assert.IsTrue(TensorAssert.Same(tensor, noDecayNetwork[name]), $"'{name}': the network's group does not depend on the module's settings");
    }
}
