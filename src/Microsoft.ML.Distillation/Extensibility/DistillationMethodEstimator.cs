// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Extensibility;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// A student trained from a frozen teacher with a <see cref="DistillationMethod"/> of the caller's. Create it with
/// <c>mlContext.Distillation.Distill(teacher, method, options)</c>. Any teacher and student families; the networks see the original
/// (unrotated) images.
/// </summary>
public sealed class DistillationMethodEstimator : TeacherStudentEstimatorBase<StudentOptions>
{
    private readonly DistillationMethod _method;

    internal DistillationMethodEstimator(IHostEnvironment env, ITransformer teacher, DistillationMethod method, StudentOptions options)
        : base(env, options, Named(method), teacher)
    {
        _method = method;
        if (method.TermNames is not { Count: > 0 } names || names.Any(string.IsNullOrWhiteSpace) || names.Distinct().Count() != names.Count)
            throw new ArgumentException($"{method.GetType().Name}.TermNames must name at least one term, each once and not blank.", nameof(method));
        if (!(method.ModuleLearningRateFactor > 0) || double.IsInfinity(method.ModuleLearningRateFactor))
            throw new ArgumentException(
                $"{method.GetType().Name}.ModuleLearningRateFactor is {method.ModuleLearningRateFactor}; it must be a positive, finite number (1: the student's rate).", nameof(method));
        if (method.ModuleWeightDecay is double wd && (!(wd >= 0) || double.IsInfinity(wd)))
            throw new ArgumentException(
                $"{method.GetType().Name}.ModuleWeightDecay is {wd}; it must be a finite number >= 0, or null for the student's weight decay.", nameof(method));
    }

    private protected override bool PairsAuxiliaryBranches => false;

    private protected override IDistillationLoss CreateLoss() => new DistillationMethodLoss(_method);

    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
    {
        var teacher = Teacher!;
        ((DistillationMethodLoss)loss).Prepare(new DistillationSetup(
            context.Train.Count, context.Train.ClassCount, context.Network.EmbeddingSize, teacher.Network.EmbeddingSize));
        return loss;
    }

    private static string Named(DistillationMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        return string.IsNullOrWhiteSpace(method.Name)
            ? throw new ArgumentException($"{method.GetType().Name}.Name must not be blank: it names the training phase.", nameof(method))
            : method.Name;
    }
}
