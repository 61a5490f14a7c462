// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Pkt;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// Probabilistic knowledge transfer (Passalis and Tefas, ECCV 2018) on the pooled embeddings. Create it with
/// <c>mlContext.Distillation.Pkt</c>. Any teacher and student families (embedding widths may differ).
/// </summary>
public sealed class PktEstimator : FeatureDistillationEstimatorBase<PktOptions>
{
    internal PktEstimator(IHostEnvironment env, ITransformer teacher, PktOptions options)
        : base(env, options, "PKT", teacher)
    {
        LossOptionsValidation.CheckWeight(options.TransferWeight, nameof(options.TransferWeight));
    }

    private protected override IDistillationLoss CreateLoss()
        => new PktLoss(Options.CrossEntropyWeight, Options.DistillationWeight, Options.Temperature, Options.TransferWeight);
}
