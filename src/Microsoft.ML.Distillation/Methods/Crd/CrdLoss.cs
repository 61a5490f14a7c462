// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Crd;

/// <summary>
/// Contrastive representation distillation (Tian, Krishnan, Isola, ICLR 2020; distillers.md §3), "exact" positives. Each sample's
/// student embedding e_s is scored against the teacher bank at its own row and K rows of other classes,
/// <c>u = exp(e_s · M_t[j] / τ)</c>, and the teacher embedding e_t against the student bank the same way; each side is divided by a
/// constant Z fixed on the first batch (mean(u) · N). With P = u / Z and noise mass r = K / N, the NCE loss of one anchor is
/// <c>−log(P_pos / (P_pos + r + ε)) − Σ_k log(r / (P_neg,k + r + ε))</c>, ε = 1e-7, and L_CRD is the batch mean of the student
/// anchor's plus the teacher anchor's (<see cref="ContrastiveTerm"/>). After the optimiser step both banks take the batch's embeddings
/// at its rows with momentum.
/// </summary>
internal sealed class CrdLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight, ContrastiveTerm? term)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "crd"), IDisposable
{
    public double Weight { get; } = weight;

    public ContrastiveTerm? Term { get; } = term;

    public override bool UsesTeacherFeatures => false;

    public override nn.Module? TrainableModule => Term?.Memory;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        var term = Term ?? throw new InvalidOperationException("CRD's memory is created when training starts.");
        yield return term.Compute(student.Embedding, teacher.Embedding, batch) * Weight;
    }

    public override void OnStepEnd(LossBatch batch) => Term?.OnStepEnd();

    public void Dispose() => Term?.Dispose();
}
