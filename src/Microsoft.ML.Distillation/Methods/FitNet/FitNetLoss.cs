// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.FitNet;

/// <summary>
/// FitNets hint learning (Romero et al., ICLR 2015; distillers.md §3.1, as RepDistiller: one stage, trained together with the task
/// loss): <c>L_hint = mean((r(f_s) − f_t)²)</c>, r the <see cref="HintRegressor"/> from the student's hint stage to the teacher's.
/// </summary>
internal sealed class FitNetLoss(double crossEntropyWeight, double distillationWeight, double temperature, double weight,
    int studentStage, int teacherStage, HintRegressor? regressor)
    : FeatureDistillationLoss(crossEntropyWeight, distillationWeight, temperature, "hint"), IDisposable
{
    public double Weight { get; } = weight;

    public int StudentStage { get; } = studentStage;

    public int TeacherStage { get; } = teacherStage;

    public HintRegressor? Regressor { get; } = regressor;

    public override bool UsesTeacherFeatures => true;

    public override nn.Module? TrainableModule => Regressor;

    protected override IEnumerable<Tensor> MethodTerms(NetworkOutput student, NetworkOutput teacher, LossBatch batch)
    {
        var regressor = Regressor ?? throw new InvalidOperationException("FitNet's regressor is created when training starts.");
        yield return Hint(regressor.call(student.Features[StudentStage]), teacher.Features[TeacherStage]) * Weight;
    }

    /// <summary>Mean squared difference of the regressed student map and the teacher's map.</summary>
    public static Tensor Hint(Tensor regressed, Tensor teacher) => nn.functional.mse_loss(regressed, teacher);

    public void Dispose() => Regressor?.Dispose();
}
