// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Options shared by every student: the network to train (default "wrn16_2") and the training schedule.</summary>
public class StudentOptions : DistillationTrainerOptions
{
    /// <summary>Default student architecture: "wrn16_2".</summary>
    public const string DefaultArchitecture = "wrn16_2";

    /// <summary>Creates options with the documented defaults.</summary>
    public StudentOptions()
    {
        Architecture = DefaultArchitecture;
    }
}
