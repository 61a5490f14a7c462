// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.SimReg;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Feature regression with an MLP head (SimReg, Navaneet et al., BMVC 2021): the student's pooled embedding, through a predictor
/// trained with it and discarded afterwards, regresses the teacher's. Create it with <c>mlContext.Distillation.SimReg</c>. Any teacher
/// and student families (the predictor maps one embedding width to the other).
/// </summary>
public sealed class SimRegEstimator : FeatureDistillationEstimatorBase<SimRegOptions>
{
    internal SimRegEstimator(IHostEnvironment env, ITransformer teacher, SimRegOptions options)
        : base(env, options, "SimReg", teacher)
    {
        LossOptionsValidation.CheckWeight(options.RegressionWeight, nameof(options.RegressionWeight));
    }

    private protected override IDistillationLoss CreateLoss() => Loss(predictor: null);

    /// <summary>The predictor is sized from both embeddings and created here, after the training seed is set.</summary>
    private protected override IDistillationLoss PrepareLoss(IDistillationLoss loss, LossPreparation context)
        => Loss(new EmbeddingPredictor(context.Network.EmbeddingSize, Teacher!.Network.EmbeddingSize));

    private SimRegLoss Loss(EmbeddingPredictor? predictor)
        => new(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.RegressionWeight, predictor);
}
