// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Estimators;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Ctkd;

/// <summary>
/// CTKD's global learnable temperature (distillers.md §5): a scalar θ (initially 1), <c>τ = τ_min + τ_range · sigmoid(GRL_λ(θ))</c>.
/// The gradient-reversal layer is the identity forward and multiplies the gradient by λ ≤ 0 backward, written without a custom
/// autograd function as <c>θ.detach() + λ · (θ − θ.detach())</c> (value θ exactly, gradient λ). A logit loss that owns one returns
/// it as its <see cref="IDistillationLoss.TrainableModule"/>, so θ is optimised, checkpointed and resumed with the student.
/// </summary>
internal sealed class CurriculumTemperature : nn.Module
{
    private readonly TorchSharp.Modules.Parameter theta;

    public CurriculumTemperature(double minTemperature, double temperatureRange, int curriculumEpochs) : base(nameof(CurriculumTemperature))
    {
        MinTemperature = minTemperature;
        TemperatureRange = temperatureRange;
        CurriculumEpochs = curriculumEpochs;
        theta = new TorchSharp.Modules.Parameter(ones(1));
        RegisterComponents();
    }

    public double MinTemperature { get; }
    public double TemperatureRange { get; }
    public int CurriculumEpochs { get; }

    /// <summary>θ, the learned scalar.</summary>
    public Tensor Theta => theta;

    /// <summary>From options, with the paper's 10 of 240 curriculum epochs scaled to <paramref name="epochs"/> when they give none.</summary>
    public static CurriculumTemperature? From(CurriculumTemperatureOptions? options, int epochs)
        => options is null ? null : new(options.MinTemperature, options.TemperatureRange, options.CurriculumEpochs ?? ScaledCurriculumEpochs(epochs));

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

    /// <summary>τ for a training step, a [1] tensor on θ's device whose gradient reaches θ reversed and scaled by λ.</summary>
    public Tensor Temperature(TrainingStep step) => Temperature(Lambda(step.Epoch));

    /// <summary>τ with gradient-reversal strength <paramref name="lambda"/>.</summary>
    public Tensor Temperature(double lambda)
    {
        using var scope = NewDisposeScope();
        var fixedTheta = theta.detach();
        var reversed = fixedTheta + (theta - fixedTheta) * lambda;
        return (MinTemperature + TemperatureRange * reversed.sigmoid()).MoveToOuterDisposeScope();
    }

    /// <summary>The current τ as a number (reports).</summary>
    public double Current()
    {
        using var _ = no_grad();
        using var t = MinTemperature + TemperatureRange * theta.sigmoid();
        return t.to_type(ScalarType.Float64).cpu().item<double>();
    }

    /// <summary>The loss's epoch diagnostics: <c>temperature</c>.</summary>
    public IReadOnlyDictionary<string, double> Diagnostics() => new Dictionary<string, double> { ["temperature"] = Current() };
}
