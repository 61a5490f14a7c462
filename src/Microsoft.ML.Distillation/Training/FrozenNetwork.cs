// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// A network that runs but does not train: on the training device, eval mode, no gradients, auxiliary inputs detached. The engine
/// holds the teacher this way while a student trains, and the network itself in a pre-stage that trains only a loss's module
/// (<see cref="TrainableParts.None"/>: SSKD's head, MGD's branches on the frozen teacher).
/// </summary>
/// <remarks>
/// Two ways:
/// <list type="bullet">
/// <item>A private inference-only copy, when <c>foldBatchNorms</c> (<see cref="TrainingSettings.FoldTeacherBatchNorms"/>, off by
/// default), <c>channelsLast</c> (<see cref="TrainingSettings.ChannelsLast"/>) or <c>bfloat16</c>
/// (<see cref="TrainingSettings.TeacherInBFloat16"/>: the copy's weights and compute in bfloat16, outputs cast back to float32) is asked for: its parameters do not require
/// gradients and the caller's teacher is not touched at all. Folded: every batch norm that directly follows a convolution is
/// folded into it (<see cref="BatchNormFolding"/>); families that do not declare foldable pairs, and batch norms that cannot be
/// folded (pre-activation ones, those after a residual add), run as eval-mode batch norms. Channels-last: the convolution
/// weights get NHWC strides (<see cref="Training.ChannelsLast"/>).</item>
/// <item>In place: the caller's network itself is switched to that state, and restored when this object is disposed.</item>
/// </list>
/// </remarks>
internal sealed class FrozenNetwork : IDisposable
{
    private readonly ClassifierNetwork _teacher;
    private readonly ClassifierNetwork? _copy;
    private readonly Device _device;
    private readonly bool _training;
    private readonly bool _detach;
    private readonly bool _auxiliary;
    private readonly Dictionary<string, bool> _requiresGrad;
    private readonly bool _bfloat16;

    /// <param name="teacher">The fitted network.</param>
    /// <param name="device">Where the teacher runs.</param>
    /// <param name="computeAuxiliary">Whether the forward computes the auxiliary branches.</param>
    /// <param name="foldBatchNorms">Run a folded inference-only copy instead of the network itself.</param>
    /// <param name="channelsLast">Run an inference-only copy with channels-last convolution weights.</param>
    /// <param name="bfloat16">Run an inference-only bfloat16 copy; inputs are cast to bfloat16 and every output back to float32.</param>
    public FrozenNetwork(ClassifierNetwork teacher, Device device, bool computeAuxiliary, bool foldBatchNorms = false, bool channelsLast = false,
        bool bfloat16 = false)
    {
        _bfloat16 = bfloat16;
        _teacher = teacher;
        _device = teacher.parameters().FirstOrDefault()?.device ?? CPU; // an ONNX teacher has no parameters
        _training = teacher.training;
        _detach = teacher.DetachAuxiliaryInputs;
        _auxiliary = teacher.ComputeAuxiliary;
        _requiresGrad = teacher.named_parameters().ToDictionary(p => p.name, p => p.parameter.requires_grad);
        if (foldBatchNorms || channelsLast || bfloat16)
        {
            _copy = PrivateCopy(teacher, device, computeAuxiliary, foldBatchNorms, channelsLast, bfloat16);
            return;
        }

        teacher.to(device);
        teacher.eval();
        teacher.DetachAuxiliaryInputs = true;
        teacher.ComputeAuxiliary = computeAuxiliary;
        foreach (var p in teacher.parameters())
            p.requires_grad = false;
    }

    /// <summary>True when the teacher runs as a folded inference-only copy.</summary>
    public bool IsFolded { get; private set; }

    /// <summary>True when the teacher runs as a private copy (folded or channels-last) rather than the caller's network.</summary>
    public bool IsCopy => _copy is not null;

    /// <summary>Number of batch norms folded into convolutions (0 when not folded).</summary>
    public int FoldedNormCount { get; private set; }

    /// <summary>
    /// The teacher's outputs for <paramref name="input"/>, computed under no_grad. The tap features are released at once unless
    /// <paramref name="keepFeatures"/> (then <see cref="NetworkOutput.Features"/> is empty). The tensors belong to the caller's dispose scope.
    /// </summary>
    public NetworkOutput Forward(Tensor input, bool keepFeatures)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var output = (_copy ?? _teacher).forward(_bfloat16 ? input.to(ScalarType.BFloat16) : input);
        if (_bfloat16)
            output = new NetworkOutput(output.Logits.to(ScalarType.Float32), output.Embedding.to(ScalarType.Float32),
                [.. output.Features.Select(f => f.to(ScalarType.Float32))], [.. output.AuxLogits.Select(a => a.to(ScalarType.Float32))]);
        output.Logits.MoveToOuterDisposeScope();
        output.Embedding.MoveToOuterDisposeScope();
        foreach (var logits in output.AuxLogits)
            logits.MoveToOuterDisposeScope();
        if (keepFeatures)
        {
            foreach (var feature in output.Features)
                feature.MoveToOuterDisposeScope();
        }
        return new NetworkOutput(output.Logits, output.Embedding, keepFeatures ? output.Features : [], output.AuxLogits);
    }

    /// <summary>Restores the teacher's device, mode, flags and gradient requirements; disposes the private copy.</summary>
    public void Dispose()
    {
        if (_copy is not null)
        {
            _copy.Dispose();
            return;
        }

        _teacher.to(_device);
        foreach (var (name, parameter) in _teacher.named_parameters())
            parameter.requires_grad = _requiresGrad[name];
        _teacher.train(_training);
        _teacher.DetachAuxiliaryInputs = _detach;
        _teacher.ComputeAuxiliary = _auxiliary;
    }

    private ClassifierNetwork PrivateCopy(ClassifierNetwork teacher, Device device, bool computeAuxiliary, bool fold, bool channelsLast, bool bfloat16)
    {
        var copy = NetworkRegistry.CopyOf(teacher);
        try
        {
            copy.to(device);
            copy.eval();
            foreach (var p in copy.parameters())
                p.requires_grad = false;
            copy.DetachAuxiliaryInputs = true;
            copy.ComputeAuxiliary = computeAuxiliary;
            if (fold)
            {
                FoldedNormCount = BatchNormFolding.FoldInPlace(copy);
                IsFolded = true;
            }
            if (channelsLast)
                Training.ChannelsLast.ApplyPermanently(copy);
            if (bfloat16)
                copy.to(ScalarType.BFloat16);
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }
}
