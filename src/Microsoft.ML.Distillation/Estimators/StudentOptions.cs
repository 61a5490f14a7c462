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

    /// <summary>
    /// Precision of the frozen teacher's forward pass. Default <see cref="Distillation.TeacherPrecision.Float32"/>.
    /// <see cref="Distillation.TeacherPrecision.BFloat16"/> runs a bfloat16 copy of the teacher (outputs back in float32) where
    /// bfloat16 is fast: on CUDA, and on CPUs with AVX512-BF16 or AMX; elsewhere it trains in float32 with a warning in the log.
    /// Opt-in: on the build machine (AVX512-BF16) the WRN-40-2 teacher forward ran 2.6x faster and its softened outputs (T = 3)
    /// moved by a KL of 7.4e-4 per row on average; with <see cref="TrainingOptions.Precision"/> = BFloat16Mixed too, HSAKD students
    /// trained 1.6x faster and scored 0.15 points lower on average over three seeds, within noise (docs/benchmarks.md, 2026-12-05).
    /// Ignored by students without a teacher.
    /// </summary>
    public TeacherPrecision TeacherPrecision = TeacherPrecision.Float32;

    /// <summary>The estimator these options describe (see <c>mlContext.Distillation.Distill(teacher, options)</c>).</summary>
    internal virtual IEstimator<ImageClassifierTransformer> CreateEstimator(IHostEnvironment env, ITransformer teacher)
        => new BaselineEstimator(env, this);
}

/// <summary>Precision of a frozen teacher's forward pass (<see cref="StudentOptions.TeacherPrecision"/>).</summary>
public enum TeacherPrecision
{
    /// <summary>float32, as trained.</summary>
    Float32 = 0,

    /// <summary>A bfloat16 copy of the teacher where bfloat16 is fast; its outputs are returned in float32.</summary>
    BFloat16 = 1,
}
