// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>
/// Where training and scoring run. ML.NET's own GPU settings combine with it as ML.NET's deep-learning trainers use them:
/// <c>MLContext.GpuDeviceId</c>, when set, selects that CUDA device for <see cref="Auto"/> and <see cref="Cuda"/>; when CUDA cannot
/// be had for it (or for <see cref="Cuda"/>), <c>MLContext.FallbackToCpu = true</c> trains on the CPU with a logged warning, and false
/// (ML.NET's default) stops before training with an error that says what to install. <see cref="Cpu"/> always uses the CPU.
/// </summary>
public enum ComputeDevice
{
    /// <summary>
    /// CUDA when this process's TorchSharp build has it and a GPU is present, otherwise the CPU. With <c>MLContext.GpuDeviceId</c> set, that
    /// CUDA device, or the CPU only if <c>MLContext.FallbackToCpu</c> allows it.
    /// </summary>
    Auto = 0,

    /// <summary>The CPU, always.</summary>
    Cpu = 1,

    /// <summary>
    /// The CUDA GPU <c>MLContext.GpuDeviceId</c> names (the first when it is null); an error says what to install when CUDA is not
    /// available, unless <c>MLContext.FallbackToCpu</c> is true.
    /// </summary>
    Cuda = 2,
}
