// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Where training and scoring run.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when this process's TorchSharp build has it and a GPU is present; otherwise the CPU.</summary>
    Auto = 0,

    /// <summary>The CPU, always.</summary>
    Cpu = 1,

    /// <summary>The first CUDA GPU; an error says what to install when CUDA is not available.</summary>
    Cuda = 2,
}
