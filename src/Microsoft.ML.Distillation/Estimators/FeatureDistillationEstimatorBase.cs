// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// A student of a frozen teacher trained by a feature or relation distiller (<see cref="FeatureDistillationOptions"/>): checks the shared
/// weights; pairs no auxiliary branches, so any teacher and student families are accepted unless the method says otherwise.
/// </summary>
public abstract class FeatureDistillationEstimatorBase<TOptions> : TeacherStudentEstimatorBase<TOptions>
    where TOptions : FeatureDistillationOptions
{
    private protected FeatureDistillationEstimatorBase(IHostEnvironment env, TOptions options, string phase, ITransformer teacher)
        : base(env, options, phase, teacher)
    {
        LossOptionsValidation.CheckWeight(options.CrossEntropyWeight, nameof(options.CrossEntropyWeight));
        LossOptionsValidation.CheckWeight(options.DistillationWeight, nameof(options.DistillationWeight));
        LossOptionsValidation.CheckTemperature(options.Temperature);
    }

    private protected override bool PairsAuxiliaryBranches => false;
}
