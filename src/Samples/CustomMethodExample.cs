// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>
/// A distillation method of your own, written against the public extension point only: KD whose hard-label term uses label
/// smoothing, <c>L = 0.1 · CE_smoothed(z_s, y) + 0.9 · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))</c>.
/// </summary>
public sealed class KdWithLabelSmoothing(double temperature = 4, double smoothing = 0.1) : DistillationMethod
{
    public override string Name => "KD-LS";

    public override IReadOnlyList<string> TermNames { get; } = ["ce_smoothed", "kd"];

    public override bool UsesTeacherEmbedding => false; // reads the teacher's logits only, so an ONNX teacher works too

    public override IReadOnlyList<(string Name, Tensor Value)> Compute(DistillationStep step)
    {
        var ce = nn.functional.cross_entropy(step.StudentLogits, step.Labels, label_smoothing: smoothing);
        var logStudent = nn.functional.log_softmax(step.StudentLogits / temperature, 1);
        var logTeacher = nn.functional.log_softmax(step.TeacherLogits / temperature, 1);
        var kl = (logTeacher.exp() * (logTeacher - logStudent)).sum() / step.StudentLogits.shape[0];
        return [("ce_smoothed", 0.1 * ce), ("kd", 0.9 * temperature * temperature * kl)];
    }
}

/// <summary>Trains a teacher, then a student with <see cref="KdWithLabelSmoothing"/>, on the embedded Fashion-MNIST subset.</summary>
public static class CustomMethodExample
{
    /// <summary>Runs the example; returns the student's test metrics.</summary>
    public static MulticlassClassificationMetrics Run(int trainRows = 2000, int testRows = 500, int teacherEpochs = 3, int studentEpochs = 3,
        Action<TrainingMetrics>? log = null)
    {
        var ml = new MLContext(seed: 1);
        var train = FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "train", trainRows);
        var test = FashionMnist.Load(ml, FashionMnist.EmbeddedFolder, "t10k", testRows);
        var prep = ml.Transforms.Conversion.MapValueToKey("Label");

        var teacher = prep.Append(ml.Distillation.Teacher(new TeacherOptions { Architecture = "resnet14", Epochs = teacherEpochs, MetricsCallback = log })).Fit(train);
        var student = prep.Append(ml.Distillation.Distill(teacher, new KdWithLabelSmoothing(),
            new StudentOptions { Architecture = "resnet8", Epochs = studentEpochs, MetricsCallback = log })).Fit(train);
        return ml.MulticlassClassification.Evaluate(student.Transform(test));
    }
}
