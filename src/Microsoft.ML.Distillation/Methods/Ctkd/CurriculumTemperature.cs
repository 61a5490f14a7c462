// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Ctkd;

/// <summary>
/// CTKD's learned temperature (distillers.md §5), trained adversarially: <c>τ = τ_min + τ_range · sigmoid(GRL_λ(u))</c>, where u is learned
/// (a scalar θ in <see cref="GlobalCurriculumTemperature"/>, a per-sample output of a small network in
/// <see cref="InstanceCurriculumTemperature"/>). The gradient-reversal layer is the identity forward and multiplies the gradient by λ ≤ 0
/// backward, written without a custom autograd function as <c>u.detach() + λ · (u − u.detach())</c> (value u exactly, gradient λ); λ
/// follows the cosine curriculum of <see cref="Lambda"/>. A logit loss that owns one returns it as its
/// <see cref="IDistillationLoss.TrainableModule"/>, so its parameters are optimised, checkpointed and resumed with the student.
/// </summary>
internal abstract class CurriculumTemperature : nn.Module
{
    private protected CurriculumTemperature(string name, double minTemperature, double temperatureRange, int curriculumEpochs) : base(name)
    {
        MinTemperature = minTemperature;
        TemperatureRange = temperatureRange;
        CurriculumEpochs = curriculumEpochs;
    }

    public double MinTemperature { get; }
    public double TemperatureRange { get; }
    public int CurriculumEpochs { get; }

    /// <summary>
    /// From options, with the paper's 10 of 240 curriculum epochs scaled to <paramref name="epochs"/> when they give none;
    /// <paramref name="classCount"/> sizes the instance-wise variant's input.
    /// </summary>
    public static CurriculumTemperature? From(CurriculumTemperatureOptions? options, int epochs, int classCount)
    {
        if (options is null)
            return null;
        int curriculumEpochs = options.CurriculumEpochs ?? ScaledCurriculumEpochs(epochs);
        return options.InstanceWise
            ? new InstanceCurriculumTemperature(options.MinTemperature, options.TemperatureRange, curriculumEpochs, classCount)
            : new GlobalCurriculumTemperature(options.MinTemperature, options.TemperatureRange, curriculumEpochs);
    }

    /// <summary>Refuses absurd settings, naming the option.</summary>
    public static void Validate(CurriculumTemperatureOptions? options)
    {
        if (options is null)
            return;
        LossOptionsValidation.CheckTemperature(options.MinTemperature, $"{nameof(CurriculumTemperatureOptions)}.{nameof(options.MinTemperature)}");
        LossOptionsValidation.CheckTemperature(options.TemperatureRange, $"{nameof(CurriculumTemperatureOptions)}.{nameof(options.TemperatureRange)}");
        if (options.CurriculumEpochs is int l && l < 1)
            throw new ArgumentOutOfRangeException($"{nameof(CurriculumTemperatureOptions)}.{nameof(options.CurriculumEpochs)}", l,
                "CurriculumEpochs must be at least 1, or null for the paper's 10 of 240 epochs scaled to Epochs.");
    }

    /// <summary>The paper's 10 of 240 epochs scaled to a run of <paramref name="epochs"/>: ⌈epochs / 24⌉.</summary>
    public static int ScaledCurriculumEpochs(int epochs) => Math.Max(1, (epochs + 23) / 24);

    /// <summary>λ in 0-based epoch <paramref name="epoch"/>: (cos(π · min(e, L) / L) + 1) / 2 − 1 with e = epoch + 1 (the reference counts from 1).</summary>
    public double Lambda(int epoch)
    {
        int e = Math.Min(epoch + 1, CurriculumEpochs);
        return (Math.Cos(Math.PI * e / CurriculumEpochs) + 1) / 2 - 1;
    }

    /// <summary>
    /// τ for a training step and the logits of one distillation term: [1] for the global variant, [R, 1] for the instance-wise one, on the
    /// learned parameters' device, its gradient reaching them reversed and scaled by λ of the step's epoch.
    /// </summary>
    public Tensor Temperature(TrainingStep step, Tensor studentLogits, Tensor teacherLogits) => Temperature(Lambda(step.Epoch), studentLogits, teacherLogits);

    /// <summary>τ with gradient-reversal strength <paramref name="lambda"/>.</summary>
    public abstract Tensor Temperature(double lambda, Tensor studentLogits, Tensor teacherLogits);

    /// <summary>The loss's epoch diagnostics (<c>temperature</c>, and more for the instance-wise variant).</summary>
    public abstract IReadOnlyDictionary<string, double> Diagnostics();

    /// <summary><c>τ_min + τ_range · sigmoid(GRL_λ(u))</c>.</summary>
    private protected Tensor Bounded(Tensor u, double lambda)
    {
        using var scope = NewDisposeScope();
        var fixedU = u.detach();
        var reversed = fixedU + (u - fixedU) * lambda;
        return (MinTemperature + TemperatureRange * reversed.sigmoid()).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// CTKD's global variant, as in the authors' code: one scalar θ (initially 1) for all samples, τ = τ_min + τ_range · sigmoid(θ).
/// </summary>
internal sealed class GlobalCurriculumTemperature : CurriculumTemperature
{
    private readonly TorchSharp.Modules.Parameter theta;

    public GlobalCurriculumTemperature(double minTemperature, double temperatureRange, int curriculumEpochs)
        : base(nameof(GlobalCurriculumTemperature), minTemperature, temperatureRange, curriculumEpochs)
    {
        theta = new TorchSharp.Modules.Parameter(ones(1));
        RegisterComponents();
    }

    /// <summary>θ, the learned scalar.</summary>
    public Tensor Theta => theta;

    /// <inheritdoc/>
    public override Tensor Temperature(double lambda, Tensor studentLogits, Tensor teacherLogits) => Temperature(lambda);

    /// <summary>τ, a [1] tensor, with gradient-reversal strength <paramref name="lambda"/>.</summary>
    public Tensor Temperature(double lambda) => Bounded(theta, lambda);

    /// <summary>The current τ as a number (reports).</summary>
    public double Current()
    {
        using var _ = no_grad();
        using var t = MinTemperature + TemperatureRange * theta.sigmoid();
        return t.to_type(ScalarType.Float64).cpu().item<double>();
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, double> Diagnostics() => new Dictionary<string, double> { ["temperature"] = Current() };
}
