// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Baseline;

/// <summary>The no-teacher baseline: plain cross-entropy on the original images (the "Student" row of every distillation paper).</summary>
internal sealed class CrossEntropyLoss : IDistillationLoss
{
    public IReadOnlyList<string> TermNames { get; } = new[] { "ce" };

    public bool RequiresTeacher => false;

    public bool UsesAuxiliaryBranches => false;

    public bool UsesRotations => false;

    public LossResult Compute(LossBatch batch)
    {
        var ce = LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels);
        return new LossResult(ce, new[] { new KeyValuePair<string, Tensor>("ce", ce) });
    }
}
