// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Distillation.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;
using Microsoft.ML.Distillation.Methods.TeacherPretraining;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Pretrains an HSAKD teacher: a network whose auxiliary branches learn the joint (class x rotation) task beside the main head,
/// with <c>L = CE(z[0::4], y) + Σ_l CE(q_l, y·4 + j)</c> (hsakd-sskd.md §2.4). Create it with <c>mlContext.Distillation.Teacher</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `Image` (input) | `MLImage` (after `LoadImages`/`ResizeImages`, square) or known-size `Vector<Single>`/`Vector<Byte>` of C x H x W | training images |
/// | `Label` (input) | key | the class; use `MapValueToKey` on raw labels |
/// | `Score` (output) | `Vector<Single>` of K | class probabilities |
/// | `PredictedLabel` (output) | key | the most probable class, with the label's names |
///
/// ### Trainer Characteristics
/// | | |
/// | -- | -- |
/// | Machine learning task | Multiclass classification |
/// | Is normalization required? | No (per-channel normalisation is computed from the data) |
/// | Is caching required? | No (every row is decoded once into memory) |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Distillation (TorchSharp, libtorch) |
/// ]]></format>
/// </remarks>
public sealed class TeacherEstimator : ImageClassifierEstimatorBase<TeacherOptions>
{
    internal TeacherEstimator(IHostEnvironment env, TeacherOptions options)
        : base(env, options, "Teacher")
    {
        if (options.Mode == TeacherTrainingMode.FrozenBackbone && string.IsNullOrEmpty(options.InitialModelPath))
            throw new ArgumentException(
                "Mode = FrozenBackbone trains only the auxiliary branches on a pretrained backbone: set InitialModelPath to a model saved with Save(path).",
                nameof(TeacherOptions.InitialModelPath));
        if (!string.IsNullOrEmpty(options.InitialModelPath) && !File.Exists(options.InitialModelPath))
            throw new FileNotFoundException($"InitialModelPath: no model file at '{Path.GetFullPath(options.InitialModelPath)}'.", options.InitialModelPath);
    }

    private protected override TrainableParts TrainableParts
        => Options.Mode == TeacherTrainingMode.FrozenBackbone ? TrainableParts.AuxiliaryOnly : TrainableParts.All;

    private protected override string Role => "Teacher";

    private protected override IDistillationLoss CreateLoss() => new SelfSupervisedTeacherLoss();

    private protected override ClassifierNetwork CreateNetwork(ImageTensorDataset train, Device device, IChannel channel)
    {
        var network = base.CreateNetwork(train, device, channel);
        if (string.IsNullOrEmpty(Options.InitialModelPath))
            return network;
        try
        {
            using var initial = ModelFile.Load(Options.InitialModelPath, ComputeDevice.Cpu);
            if (!string.Equals(initial.Network.Architecture, network.Architecture, StringComparison.OrdinalIgnoreCase)
                || initial.ClassCount != train.ClassCount || initial.Shape.Channels != train.Shape.Channels)
                throw new ArgumentException(
                    $"InitialModelPath '{Options.InitialModelPath}' holds a {initial.Network.Architecture} for {initial.ClassCount} classes and {initial.Shape.Channels} channels, " +
                    $"but this teacher is a {network.Architecture} for {train.ClassCount} classes and {train.Shape.Channels} channels.",
                    nameof(TeacherOptions.InitialModelPath));
            using (no_grad())
            {
                var source = initial.Network.Backbone.state_dict();
                foreach (var (name, target) in network.Backbone.state_dict())
                    target.copy_(source[name]);
            }
            channel.Info(Microsoft.ML.Runtime.MessageSensitivity.None, $"Teacher: backbone initialised from '{Options.InitialModelPath}'.");
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}
