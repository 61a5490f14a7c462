// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Options of <c>mlContext.Distillation.Teacher</c>: a network with HSAKD auxiliary branches trained on class and rotation.</summary>
public sealed class TeacherOptions : TrainingOptions
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
