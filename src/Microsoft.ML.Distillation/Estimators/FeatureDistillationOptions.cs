// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>
/// What the feature and relation distillers (SP, AT, PKT, RKD, FitNet, SimReg) share, in RepDistiller's form
/// <c>L = CrossEntropyWeight · CE + DistillationWeight · T² · KL(p_t^T ‖ p_s^T) + β · L_method</c>: the method's own term β · L_method
/// (its weight is on each method's options), plus the label cross-entropy and, optionally, vanilla KD on top ("+KD" rows). Defaults:
/// CE weight 1, KD weight 0 (the method alone, as RepDistiller's tables), T = 4.
/// </summary>
public abstract class FeatureDistillationOptions : StudentOptions
{
    /// <summary>Weight γ of the cross-entropy with the labels. Default 1.</summary>
    public double CrossEntropyWeight = 1;

    /// <summary>Weight α of a vanilla KD term on the logits next to the method's own term. Default 0 (the method alone); 0.9 with
    /// <see cref="CrossEntropyWeight"/> 0.1 gives RepDistiller's "method + KD" setting.</summary>
    public double DistillationWeight;

    /// <summary>Temperature of the KD term (used only when <see cref="DistillationWeight"/> is above 0). Default 4.</summary>
    public double Temperature = 4;
}
