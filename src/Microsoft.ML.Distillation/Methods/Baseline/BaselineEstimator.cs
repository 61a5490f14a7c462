// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Methods.Baseline;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// The no-teacher baseline: the same student trained with cross-entropy alone, through the same engine and schedule, so the
/// gain of a distiller can be measured. Create it with <c>mlContext.Distillation.Baseline</c>.
/// </summary>
public sealed class BaselineEstimator : ImageClassifierEstimatorBase<StudentOptions>
{
    internal BaselineEstimator(IHostEnvironment env, StudentOptions options)
        : base(env, options, "Baseline")
    {
    }

    private protected override IDistillationLoss CreateLoss() => new CrossEntropyLoss();
}
