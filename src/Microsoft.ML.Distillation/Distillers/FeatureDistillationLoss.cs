// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Distillers;

/// <summary>
/// The shape every feature and relation distiller shares (distillers.md §1): <c>γ · CE + α · T² · KL + β · L_method</c> on the original
/// (unrotated) images, the teacher's taps kept for the method. A method supplies its term names and <see cref="MethodTerms"/>; the KD
/// term is left out (not computed, not reported) when α is 0.
/// </summary>
internal abstract class FeatureDistillationLoss : IDistillationLoss
{
    private readonly string[] _termNames;

    protected FeatureDistillationLoss(double crossEntropyWeight, double distillationWeight, double temperature, params string[] methodTermNames)
    {
        CrossEntropyWeight = crossEntropyWeight;
        DistillationWeight = distillationWeight;
        Temperature = temperature;
        _termNames = distillationWeight > 0 ? ["ce", "kd", .. methodTermNames] : ["ce", .. methodTermNames];
    }

    public double CrossEntropyWeight { get; }

    public double DistillationWeight { get; }

    public double Temperature { get; }

    public IReadOnlyList<string> TermNames => _termNames;

    public bool RequiresTeacher => true;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    /// <summary>True when <see cref="MethodTerms"/> reads the teacher's stage maps (not only its embedding and logits).</summary>
    public abstract bool UsesTeacherFeatures { get; }

    /// <summary>The method's own weighted terms, in the order of the names given to the constructor.</summary>
    protected abstract IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch);

    public virtual nn.Module? TrainableModule => null;

    /// <summary>State updates after the optimiser step (CRD's memory banks); nothing by default.</summary>
    public virtual void OnStepEnd(LossBatch batch)
    {
    }

    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException($"{GetType().Name} needs the teacher's outputs.");
        var terms = new List<KeyValuePair<string, Tensor>>(_termNames.Length);
        var ce = LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels) * CrossEntropyWeight;
        terms.Add(new("ce", ce));
        if (DistillationWeight > 0)
            terms.Add(new("kd", LossFunctions.SoftenedKl(batch.Student.Logits, teacher.Logits, Temperature) * DistillationWeight));
        foreach (var term in MethodTerms(batch.Student, teacher, batch))
        {
            if (terms.Count == _termNames.Length)
                throw new InvalidOperationException($"{GetType().Name} returned more terms than its {_termNames.Length} names.");
            terms.Add(new(_termNames[terms.Count], term));
        }

        if (terms.Count != _termNames.Length)
            throw new InvalidOperationException($"{GetType().Name} returned {terms.Count} terms, not {_termNames.Length}.");

        var total = terms[0].Value;
        for (int i = 1; i < terms.Count; i++)
            total = total + terms[i].Value;
        return new LossResult(total, terms);
    }
}
