// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Methods.Hsakd;

namespace Microsoft.ML.Distillation.Benchmarks;

/// <summary>
/// The ImageNet-sized HSAKD step: ResNet-34 teacher (with its four auxiliary branches) -> ResNet-18 student (with its four),
/// 4 rotations, on synthetic 3x224x224 images with 1000 classes, through the real training engine.
/// </summary>
/// <remarks>
/// A step at 224 pixels costs about 1.5 TFLOP per 8 original images, so this scenario has its own batch size
/// (<c>--batch-size-224</c>, default 8 originals = 32 rotated rows) and runs at most 1 warm-up and 5 measured steps, whatever
/// <c>--warmup</c> and <c>--steps</c> say for the 32-pixel scenarios.
/// </remarks>
internal static class ImageNetScenario
{
    public const string Name = "hsakd-resnet34-resnet18-224";

    private const int MaxWarmup = 1;
    private const int MaxSteps = 5;

    public static ScenarioResult Run(BenchmarkOptions o)
    {
        const int classes = 1000, size = 224;
        int batch = o.BatchSize224;
        int warmup = Math.Min(o.Warmup, MaxWarmup);
        int steps = Math.Min(o.Steps, MaxSteps);
        var loss = new HsakdLoss(3, 1, 1, 1);
        int rotations = Microsoft.ML.Distillation.SelfSupervision.Rotations.Count;
        using var student = NetworkRegistry.Create("resnet18", 3, classes);
        using var teacher = NetworkRegistry.Create("resnet34", 3, classes);
        double flops = (3 * FlopCounter.ForwardFlops(student, 3, size) + FlopCounter.ForwardFlops(teacher, 3, size)) * rotations;

        using var data = Scenarios.Synthetic((warmup + steps) * batch, classes, size);
        using var normalization = ChannelNormalization.FromValues(new[] { 124f, 116f, 104f }, new[] { 58f, 57f, 57f }, 3);
        var timings = new List<StepTiming>();
        var settings = new TrainingSettings
        {
            Phase = Name, Epochs = 1, BatchSize = batch, Schedule = new LearningRateSchedule(0.1, Array.Empty<int>(), 0.1),
            Momentum = 0.9, Nesterov = false, WeightDecay = 1e-4, Seed = 1, Device = CPU, RandomCropPadding = 4, HorizontalFlip = true,
            ReleaseMemoryEachStep = o.ReleaseMemory, FoldTeacherBatchNorms = o.FoldTeacher, ChannelsLast = o.ChannelsLast,
            MixedPrecision = o.StudentBFloat16Mixed, StepObserver = timings.Add,
        };
        var env = new MLContext(seed: 1);
        using var channel = ((IHostEnvironment)env).Register("bench").Start("bench");
        new TrainingEngine(channel, null).Run(student, teacher, loss, data, null, normalization, settings);

        var measured = timings.Skip(warmup).ToArray();
        return Scenarios.StepResult(Name,
            $"HSAKD step, ResNet-34 (aux) -> ResNet-18 (aux), 4 rotations, 3x224x224, 1000 classes, batch {batch} ({batch * rotations} rows), {warmup} warm-up + {measured.Length} steps",
            measured, flops, batch);
    }
}
