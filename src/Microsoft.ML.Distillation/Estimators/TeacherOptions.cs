// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>How a teacher is pretrained (hsakd-sskd.md §2.4).</summary>
public enum TeacherTrainingMode
{
    /// <summary>Backbone and auxiliary branches trained together from scratch ("Teacher*" in the paper; the stronger teacher).</summary>
    Joint = 0,

    /// <summary>
    /// The backbone comes from <see cref="TeacherOptions.InitialModelPath"/> and stays frozen in eval mode (BatchNorm statistics
    /// included); only fresh auxiliary branches train ("Teacher" in the paper; the paper uses 100 epochs, LR 0.05, milestones 30/60/90).
    /// </summary>
    FrozenBackbone = 1,
}

/// <summary>Options of <c>mlContext.Distillation.Teacher</c>: a network with HSAKD auxiliary branches trained on class and rotation.</summary>
public sealed class TeacherOptions : DistillationTrainerOptions
{
    /// <summary>Default teacher architecture: "wrn40_2".</summary>
    public const string DefaultArchitecture = "wrn40_2";

    /// <summary>Creates options with the documented defaults.</summary>
    public TeacherOptions()
    {
        Architecture = DefaultArchitecture;
    }

    /// <summary>Joint (default) or frozen-backbone pretraining.</summary>
    public TeacherTrainingMode Mode = TeacherTrainingMode.Joint;

    /// <summary>
    /// A model saved with <c>Save(path)</c> whose backbone starts the training: required for
    /// <see cref="TeacherTrainingMode.FrozenBackbone"/>, optional (warm start) for joint training. Its architecture, input shape
    /// and class count must match. Its auxiliary branches are not reused: the branches always start fresh.
    /// </summary>
    public string? InitialModelPath;
}
