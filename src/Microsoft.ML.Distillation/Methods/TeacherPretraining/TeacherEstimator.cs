// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Distillation.Persistence.Pretrained;
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
        bool initialModel = !string.IsNullOrEmpty(options.InitialModelPath);
        bool pretrained = !string.IsNullOrEmpty(options.PretrainedWeightsPath);
        if (options.Mode == TeacherTrainingMode.FrozenBackbone && !initialModel && !pretrained)
            throw new ArgumentException(
                "Mode = FrozenBackbone trains only the auxiliary branches on a pretrained backbone: set InitialModelPath to a model saved with Save(path), " +
                "or PretrainedWeightsPath to a PyTorch state dict.",
                nameof(TeacherOptions.InitialModelPath));
        if (initialModel && pretrained)
            throw new ArgumentException(
                $"InitialModelPath ('{options.InitialModelPath}') and PretrainedWeightsPath ('{options.PretrainedWeightsPath}') both start the backbone; set one.",
                nameof(TeacherOptions.PretrainedWeightsPath));
        if (initialModel && !File.Exists(options.InitialModelPath))
            throw new FileNotFoundException($"InitialModelPath: no model file at '{Path.GetFullPath(options.InitialModelPath!)}'.", options.InitialModelPath);
        if (pretrained && !File.Exists(options.PretrainedWeightsPath))
            throw new FileNotFoundException($"PretrainedWeightsPath: no file at '{Path.GetFullPath(options.PretrainedWeightsPath!)}'.", options.PretrainedWeightsPath);
        if (options.KeepInitialAuxiliaryBranches && !initialModel)
            throw new ArgumentException("KeepInitialAuxiliaryBranches needs InitialModelPath: the model whose auxiliary branches to keep.",
                nameof(TeacherOptions.KeepInitialAuxiliaryBranches));
        if (options.PretrainedLearningRateFactor is { } factor && !(factor > 0 && double.IsFinite(factor)))
            throw new ArgumentOutOfRangeException(nameof(TeacherOptions.PretrainedLearningRateFactor), factor,
                "PretrainedLearningRateFactor must be a positive finite number (default 0.1 with PretrainedWeightsPath).");
    }

    /// <summary>Set by <see cref="CreateNetwork"/>: pretrained weights brought a head of another class count, which must train.</summary>
    private bool _headReplaced;

    /// <summary>Set by <see cref="CreateNetwork"/>: the learning-rate factor of each tensor that started from given weights.</summary>
    private Dictionary<string, double>? _learningRateFactors;

    private protected override TrainableParts TrainableParts
        => Options.Mode != TeacherTrainingMode.FrozenBackbone ? TrainableParts.All
            : _headReplaced ? TrainableParts.AuxiliaryAndHead
            : TrainableParts.AuxiliaryOnly;

    private protected override IReadOnlyDictionary<string, double>? ParameterLearningRateFactors => _learningRateFactors;

    private protected override string Role => "Teacher";

    private protected override IDistillationLoss CreateLoss() => new SelfSupervisedTeacherLoss();

    private protected override ClassifierNetwork CreateNetwork(ImageTensorDataset train, Device device, IChannel channel)
    {
        _headReplaced = false;
        _learningRateFactors = null;
        var network = base.CreateNetwork(train, device, channel);
        if (!string.IsNullOrEmpty(Options.PretrainedWeightsPath))
            return LoadPretrained(network, Options.PretrainedWeightsPath, channel);
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
            if (Options.KeepInitialAuxiliaryBranches && initial.Network.AuxiliaryBranchCount != network.AuxiliaryBranchCount)
                throw new ArgumentException(
                    $"KeepInitialAuxiliaryBranches: '{Options.InitialModelPath}' has {initial.Network.AuxiliaryBranchCount} auxiliary branches, this teacher {network.AuxiliaryBranchCount}.",
                    nameof(TeacherOptions.KeepInitialAuxiliaryBranches));
            var copied = new List<string>();
            using (no_grad())
            {
                var source = initial.Network.state_dict();
                foreach (var (name, target) in network.state_dict())
                {
                    bool auxiliary = name.StartsWith(CheckpointNames.Auxiliary, StringComparison.Ordinal);
                    if (auxiliary && !Options.KeepInitialAuxiliaryBranches)
                        continue;
                    target.copy_(source[name]);
                    copied.Add(name);
                }
            }
            SetLearningRateFactors(copied, Options.PretrainedLearningRateFactor ?? 1.0);
            channel.Info(Microsoft.ML.Runtime.MessageSensitivity.None, Options.KeepInitialAuxiliaryBranches
                ? $"Teacher: backbone and auxiliary branches initialised from '{Options.InitialModelPath}'."
                : $"Teacher: backbone initialised from '{Options.InitialModelPath}'.");
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private ClassifierNetwork LoadPretrained(ClassifierNetwork network, string path, IChannel channel)
    {
        try
        {
            var result = PretrainedWeights.Load(network, path);
            _headReplaced = result.HeadReplaced;
            SetLearningRateFactors(result.LoadedTensorNames, Options.PretrainedLearningRateFactor ?? TeacherOptions.DefaultPretrainedLearningRateFactor);
            channel.Info(Microsoft.ML.Runtime.MessageSensitivity.None, "Teacher: " + result.Describe(path, network));
            return network;
        }
        catch (InvalidDataException e)
        {
            network.Dispose();
            throw new ArgumentException($"PretrainedWeightsPath: {e.Message}", nameof(TeacherOptions.PretrainedWeightsPath), e);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private void SetLearningRateFactors(IEnumerable<string> startedFromWeights, double factor)
        => _learningRateFactors = factor == 1.0 ? null : startedFromWeights.ToDictionary(name => name, _ => factor, StringComparer.Ordinal);
}
