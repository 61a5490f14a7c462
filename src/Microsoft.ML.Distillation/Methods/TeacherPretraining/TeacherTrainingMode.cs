// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>How a teacher is pretrained (hsakd-sskd.md §2.4).</summary>
public enum TeacherTrainingMode
{
    /// <summary>Backbone and auxiliary branches trained together from scratch ("Teacher*" in the paper; the stronger teacher).</summary>
    Joint = 0,

    /// <summary>
    /// The backbone comes from <see cref="TeacherOptions.InitialModelPath"/> or <see cref="TeacherOptions.PretrainedWeightsPath"/> and
    /// stays frozen in eval mode (BatchNorm statistics included); only fresh auxiliary branches train ("Teacher" in the paper; the
    /// paper uses 100 epochs, LR 0.05, milestones 30/60/90), and the main head too when pretrained weights had another class count.
    /// </summary>
    FrozenBackbone = 1,
}
