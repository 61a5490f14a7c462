// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.SimReg;

/// <summary>
/// Feature regression with an MLP head (SimReg, Navaneet et al., BMVC 2021; distillers.md §8.5): the student's pooled embedding
/// through the <see cref="EmbeddingPredictor"/> regresses the teacher's, <c>L_reg = mean_i ‖n(g(h_s,i)) − n(h_t,i)‖² = 2 − 2·cos</c>,
/// n the L2 normalisation.
/// </summary>
internal sealed class SimRegLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight, EmbeddingPredictor? predictor)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "regression"), IDisposable
{
    public double Weight { get; } = weight;

    public EmbeddingPredictor? Predictor { get; } = predictor;

    public override bool UsesTeacherFeatures => false;

    public override nn.Module? TrainableModule => Predictor;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        var predictor = Predictor ?? throw new InvalidOperationException("SimReg's predictor is created when training starts.");
        if (student.Embedding.shape[0] < 2)
        {
            // The predictor's batch norms need two samples; a last batch of one skips the term.
            yield return zeros(1, device: student.Embedding.device).sum();
            yield break;
        }

        yield return Regression(predictor.call(student.Embedding), teacher.Embedding) * Weight;
    }

    /// <summary><c>mean_i ‖n(p_i) − n(t_i)‖²</c> of two [B, D] tensors.</summary>
    public static Tensor Regression(Tensor predicted, Tensor teacher)
    {
        using var scope = NewDisposeScope();
        var difference = nn.functional.normalize(predicted, p: 2, dim: 1) - nn.functional.normalize(teacher, p: 2, dim: 1);
        return difference.square().sum(1).mean().MoveToOuterDisposeScope();
    }

    public void Dispose() => Predictor?.Dispose();
}
