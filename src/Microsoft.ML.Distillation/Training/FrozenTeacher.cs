// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// Puts a teacher into the state distillation needs (on the training device, eval mode, no gradients, auxiliary inputs
/// detached) and restores its previous state when disposed, so the caller's fitted teacher is left as it was.
/// </summary>
internal sealed class FrozenTeacher : IDisposable
{
    private readonly ClassifierNetwork _teacher;
    private readonly Device _device;
    private readonly bool _training;
    private readonly bool _detach;
    private readonly bool _auxiliary;
    private readonly Dictionary<string, bool> _requiresGrad;

    public FrozenTeacher(ClassifierNetwork teacher, Device device, bool computeAuxiliary)
    {
        _teacher = teacher;
        _device = teacher.parameters().First().device;
        _training = teacher.training;
        _detach = teacher.DetachAuxiliaryInputs;
        _auxiliary = teacher.ComputeAuxiliary;
        _requiresGrad = teacher.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
        teacher.to(device);
        teacher.eval();
        teacher.DetachAuxiliaryInputs = true;
        teacher.ComputeAuxiliary = computeAuxiliary;
        foreach (var p in teacher.parameters())
            p.requires_grad = false;
    }

    public void Dispose()
    {
        _teacher.to(_device);
        foreach (var (name, parameter) in _teacher.named_parameters())
            parameter.requires_grad = _requiresGrad[name];
        _teacher.train(_training);
        _teacher.DetachAuxiliaryInputs = _detach;
        _teacher.ComputeAuxiliary = _auxiliary;
    }
}
