// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Extensibility;

/// <summary>Runs a user's <see cref="DistillationMethod"/> as one of the engine's losses.</summary>
internal sealed class DistillationMethodLoss : IDistillationLoss
{
    private readonly DistillationMethod _method;
    private nn.Module? _module;

    public DistillationMethodLoss(DistillationMethod method)
    {
        _method = method;
        TermNames = method.TermNames.ToArray();
    }

    /// <summary>Creates the method's module for this training (see <see cref="DistillationMethod.CreateModule"/>).</summary>
    public void Prepare(DistillationSetup setup) => _module = _method.CreateModule(setup);

    public IReadOnlyList<string> TermNames { get; }

    public bool RequiresTeacher => true;

    public bool ReadsTeacherLogitsOnly => !_method.UsesTeacherEmbedding;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    public nn.Module? TrainableModule => _module;

    public ModuleOptimization? TrainableModuleOptimization
        => _method.ModuleWeightDecay is null && _method.ModuleLearningRateFactor == 1
            ? null
            : new ModuleOptimization(_method.ModuleLearningRateFactor, _method.ModuleWeightDecay);

    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException($"{_method.Name} needs the teacher's outputs.");
        var terms = _method.Compute(View(batch, batch.Student.Logits, batch.Student.Embedding, teacher.Logits, teacher.Embedding));
        if (terms is null || !terms.Select(t => t.Name).SequenceEqual(TermNames))
        {
            throw new InvalidOperationException(
                $"{_method.GetType().Name}.Compute returned the terms [{string.Join(", ", terms?.Select(t => t.Name) ?? [])}], but its TermNames are "
                + $"[{string.Join(", ", TermNames)}]: return one term per name, in that order.");
        }

        Tensor total = terms[0].Value;
        for (int i = 1; i < terms.Count; i++)
            total = total + terms[i].Value;
        return new LossResult(total, terms.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Value)).ToArray());
    }

    /// <summary>The engine has released the network outputs by now: the method gets empty tensors in their place.</summary>
    public void OnStepEnd(LossBatch batch)
    {
        var none = empty(0, device: batch.Labels.device);
        _method.OnStepEnd(View(batch, none, none, none, none));
    }

    private DistillationStep View(LossBatch batch, Tensor studentLogits, Tensor studentEmbedding, Tensor teacherLogits, Tensor teacherEmbedding)
        => new(studentLogits, studentEmbedding, teacherLogits, teacherEmbedding, batch.Labels, batch.Step, _module);
}
