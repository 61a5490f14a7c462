// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Crd;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Mgd;

/// <summary>
/// Multi-granularity distillation on a KD base (Shao &amp; Chen; distillers.md §6, distillers-more.md §8), on the original images. With
/// z the logits, c^64 and c^256 the narrow and wide codes (teacher: its trained, frozen branches; student: its own encoders), and the
/// teacher branches' decoded logits d^64, d^256:
/// <code>
/// L = γ · CE(z_s, y)
///   + α · T² · KL(softmax(target / T) ‖ softmax(z_s / T))          T = 4
///   + w · 2² · KL(softmax(c_t^64 / 2) ‖ softmax(c_s^64 / 2))        codes read as logits over 64 "classes"
///   + w · 8² · KL(softmax(c_t^256 / 8) ‖ softmax(c_s^256 / 8))
/// </code>
/// target = z_t (the granularity-wise variant, MAG), or with stable excitation (MAS) the detached mean (z_t + d^64 + d^256) / 3, which
/// changes only this term. The reference's KD-base weights: γ = 0.2, α = 0.8, w = 1. Batch-mean throughout.
/// </summary>
internal sealed class MgdLoss : IDistillationLoss, IDisposable
{
    private readonly StudentGranularityEncoders? _studentEncoders;
    private readonly TeacherGranularityBranches? _teacherBranches;
    private readonly ContrastiveTerm? _contrast;
    private readonly double _contrastWeight;
    private readonly nn.Module? _trainable;

    /// <param name="settings">Weights, temperatures, sizes and the target.</param>
    /// <param name="studentEncoders">The student's encoders, trained with it (owned by the loss from now on).</param>
    /// <param name="teacherBranches">The teacher's trained branches, frozen here (owned by the loss from now on).</param>
    /// <remarks>The modules may be null only to ask for the loss's properties before they exist; <see cref="Compute"/> then throws.</remarks>
    /// <param name="withContrast">True for MGD on a CRD base (the term "crd" is added, weighted by <paramref name="contrastWeight"/>).</param>
    /// <param name="contrast">The CRD term (owned by the loss from now on); null only before training.</param>
    /// <param name="contrastWeight">β of the CRD term.</param>
    public MgdLoss(MgdLossSettings settings, StudentGranularityEncoders? studentEncoders, TeacherGranularityBranches? teacherBranches,
        bool withContrast = false, ContrastiveTerm? contrast = null, double contrastWeight = 0)
    {
        Settings = settings;
        _studentEncoders = studentEncoders;
        _teacherBranches = teacherBranches;
        _contrast = contrast;
        _contrastWeight = contrastWeight;
        TermNames = withContrast ? ["ce", "kd", "narrow", "wide", "crd"] : ["ce", "kd", "narrow", "wide"];
        _trainable = contrast is null || studentEncoders is null ? studentEncoders : new ModulePair(studentEncoders, contrast.Memory);
        if (teacherBranches is not null)
        {
            foreach (var p in teacherBranches.parameters())
                p.requires_grad = false;
            teacherBranches.eval();
        }
    }

    /// <summary>Weights, temperatures, sizes and the target.</summary>
    public MgdLossSettings Settings { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> TermNames { get; }

    /// <inheritdoc/>
    public bool RequiresTeacher => true;

    /// <inheritdoc/>
    public bool UsesAuxiliaryBranches => false;

    /// <inheritdoc/>
    public bool UsesRotations => false;

    /// <inheritdoc/>
    public nn.Module? TrainableModule => _trainable;

    /// <inheritdoc/>
    public LossResult Compute(LossBatch batch)
    {
        var teacher = batch.Teacher ?? throw new InvalidOperationException("MGD needs the teacher's outputs.");
        var branches = _teacherBranches ?? throw new InvalidOperationException("MGD needs the teacher's trained granularity branches.");
        var encoders = _studentEncoders ?? throw new InvalidOperationException("MGD needs the student's granularity encoders.");
        var s = Settings;
        var g = s.Granularities;

        Tensor ce, kd, narrow, wide;
        using (var scope = NewDisposeScope())
        {
            GranularityOutput teacherCodes;
            Tensor target;
            using (no_grad())
            {
                teacherCodes = branches.Forward(teacher.Embedding.detach());
                target = s.StableExcitation
                    ? (teacher.Logits.detach() + teacherCodes.NarrowLogits + teacherCodes.WideLogits) / 3
                    : teacher.Logits.detach();
            }

            var (studentNarrow, studentWide) = encoders.Forward(batch.Student.Embedding);
            ce = (LossFunctions.CrossEntropy(batch.Student.Logits, batch.Labels) * s.CrossEntropyWeight).MoveToOuterDisposeScope();
            kd = (LossFunctions.SoftenedKl(batch.Student.Logits, target, s.Temperature) * s.DistillationWeight).MoveToOuterDisposeScope();
            narrow = (LossFunctions.SoftenedKl(studentNarrow, teacherCodes.NarrowCode, g.NarrowTemperature) * s.GranularityWeight).MoveToOuterDisposeScope();
            wide = (LossFunctions.SoftenedKl(studentWide, teacherCodes.WideCode, g.WideTemperature) * s.GranularityWeight).MoveToOuterDisposeScope();
        }

        if (_contrast is null)
            return new LossResult(ce + kd + narrow + wide, [new("ce", ce), new("kd", kd), new("narrow", narrow), new("wide", wide)]);

        // The CRD base contrasts the raw embeddings: stable excitation changes only the logit target (distillers-more.md §8).
        var crd = _contrast.Compute(batch.Student.Embedding, teacher.Embedding, batch) * _contrastWeight;
        return new LossResult(ce + kd + narrow + wide + crd, [new("ce", ce), new("kd", kd), new("narrow", narrow), new("wide", wide), new("crd", crd)]);
    }

    /// <inheritdoc/>
    public void OnStepEnd(LossBatch batch) => _contrast?.OnStepEnd();

    /// <summary>The student's encoders and CRD's heads and banks, trained and checkpointed together.</summary>
    private sealed class ModulePair : nn.Module
    {
        public ModulePair(nn.Module encoders, nn.Module contrast) : base(nameof(ModulePair))
        {
            register_module("encoders", encoders);
            register_module("contrast", contrast);
        }
    }

    /// <summary>Disposes both modules.</summary>
    public void Dispose()
    {
        _studentEncoders?.Dispose();
        _teacherBranches?.Dispose();
        _contrast?.Dispose();
    }
}

/// <summary>The numbers of <see cref="MgdLoss"/>, with the reference's KD-base defaults.</summary>
internal sealed record MgdLossSettings
{
    public double CrossEntropyWeight { get; init; } = 0.2;
    public double DistillationWeight { get; init; } = 0.8;
    public double Temperature { get; init; } = 4;
    public double GranularityWeight { get; init; } = 1;
    public bool StableExcitation { get; init; } = true;
    public Granularities Granularities { get; init; } = Granularities.Reference;
}
