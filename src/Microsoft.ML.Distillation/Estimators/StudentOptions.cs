// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Runtime;
using Microsoft.ML.Distillation.Estimators;
namespace Microsoft.ML.Distillation;

/// <summary>Options shared by every student: the network to train (default "wrn16_2") and the training schedule.</summary>
public class StudentOptions : TrainingOptions
{
    /// <summary>Default student architecture: "wrn16_2".</summary>
    public const string DefaultArchitecture = "wrn16_2";

    /// <summary>Creates options with the documented defaults.</summary>
    public StudentOptions()
    {
        Architecture = DefaultArchitecture;
    }

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal virtual IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new BaselineEstimator(env, this);
}
