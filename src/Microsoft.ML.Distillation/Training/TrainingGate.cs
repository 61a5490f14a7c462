// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// One training at a time per process: libtorch's default random generator and thread count are process-wide, so two trainings
/// interleaving would make both irreproducible. Every estimator's <c>Fit</c> holds <see cref="Lock"/> (a second one waits; scoring
/// is not affected). One object for the whole library: a lock in the generic estimator base would be one per options type, and a
/// KD and an HSAKD training could interleave.
/// </summary>
internal static class TrainingGate
{
    /// <summary>The process-wide training lock (re-entrant: a <c>Fit</c> that runs another estimator's <c>Fit</c> does not deadlock).</summary>
    public static readonly object Lock = new();
}
