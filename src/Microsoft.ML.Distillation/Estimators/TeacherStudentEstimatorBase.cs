// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>
/// A student trained from a frozen teacher. Checks, before any training, that the teacher fits the data (same classes in the
/// same key order, same image shape) and, for methods that pair auxiliary branches, the student. The teacher is never modified:
/// it runs in eval mode without gradients and its state is restored afterwards. Unless the options give a normalisation, the
/// student uses the teacher's, so both networks see identical inputs.
/// </summary>
public abstract class TeacherStudentEstimatorBase<TOptions> : ImageClassifierEstimatorBase<TOptions>
    where TOptions : StudentOptions
{
    private readonly TrainedClassifier _teacher;

    private protected TeacherStudentEstimatorBase(IHostEnvironment env, TOptions options, string phase, ITransformer teacher)
        : base(env, options, phase)
    {
        _teacher = TrainedClassifier.FromTeacher(teacher);
    }

    private protected override TrainedClassifier? Teacher => _teacher;

    /// <summary>When true the student's auxiliary branches are paired with the teacher's, so their counts must agree.</summary>
    private protected abstract bool PairsAuxiliaryBranches { get; }

    /// <summary>Throws when a student of this architecture cannot be paired with the teacher.</summary>
    private protected void CheckAuxiliaryPairing()
    {
        if (!PairsAuxiliaryBranches)
            return;
        if (_teacher.Network is OnnxTeacherNetwork)
            throw OnnxTeacherRefused(Phase);
        int teacherBranches = _teacher.Network.AuxiliaryBranchCount;
        int studentBranches = NetworkRegistry.AuxiliaryBranchCount(Options.Architecture);
        if (teacherBranches != studentBranches)
            throw PairingError(Phase, _teacher.Network.Architecture, teacherBranches, Options.Architecture, studentBranches);
    }

    /// <summary>The error for a student whose auxiliary-branch count differs from the teacher's, listing the students that fit.</summary>
    internal static ArgumentException PairingError(string phase, string teacher, int teacherBranches, string student, int studentBranches)
    {
        var fitting = NetworkRegistry.NamesWithAuxiliaryBranches(teacherBranches);
        string students = fitting.Count == 0 ? "none of the registered networks" : string.Join(", ", fitting);
        if (teacherBranches == 3)
            students += " (and any wrn{d}_{k})";
        return new ArgumentException(
            $"{phase} pairs auxiliary branches one-to-one, but the teacher '{teacher}' has {teacherBranches} and the student '{student}' has " +
            $"{studentBranches}. Students that fit this teacher: {students}. Every other method (KD, DKD, SSKD, MGD, the feature and relation distillers, the baseline) pairs no branches and accepts any student.",
            nameof(TrainingOptions.Architecture));
    }

    private protected override void CheckLoss(IDistillationLoss loss)
    {
        base.CheckLoss(loss);
        if (_teacher.Network is OnnxTeacherNetwork && !loss.ReadsTeacherLogitsOnly)
            throw OnnxTeacherRefused(Phase);
    }

    /// <summary>The error for a method that needs more of the teacher than an ONNX teacher gives.</summary>
    private static ArgumentException OnnxTeacherRefused(string phase) => new(
        $"{phase} reads more of the teacher than its logits (its embedding, stage features or auxiliary branches), but the teacher is an ONNX model, " +
        "which gives logits only. With an ONNX teacher use Kd or Dkd (with or without CTKD's curriculum temperature), or a DistillationMethod whose " +
        "UsesTeacherEmbedding is false; for the other methods train a teacher with mlContext.Distillation.Teacher (PretrainedWeightsPath starts it from PyTorch weights).",
        "teacher");

    private protected override void CheckBeforeReading(ImageColumnInfo image, LabelColumnInfo label)
    {
        if (label.ClassCount != _teacher.ClassCount)
            throw new ArgumentException(
                $"Label column '{label.Name}' has {label.ClassCount} classes, but the teacher was trained on {_teacher.ClassCount}. " +
                "Distil on data labelled with the same classes (the same fitted MapValueToKey).", "data");
        if (label.HasKeyNames && !label.ClassNames.SequenceEqual(_teacher.ClassNames))
        {
            int i = Enumerable.Range(0, label.ClassCount).First(k => label.ClassNames[k] != _teacher.ClassNames[k]);
            throw new ArgumentException(
                $"Label column '{label.Name}' orders its classes differently from the teacher: key {i + 1} is '{label.ClassNames[i]}' in the data " +
                $"but '{_teacher.ClassNames[i]}' in the teacher. Map labels with the MapValueToKey fitted for the teacher, or with keyOrdinality: ByValue in both.",
                "data");
        }
    }

    private protected override void CheckDataset(ImageTensorDataset train, IDistillationLoss loss)
    {
        base.CheckDataset(train, loss);
        if (train.Shape != _teacher.Shape)
            throw new ArgumentException(
                $"Column '{Options.ImageColumnName}' holds {train.Shape} images, but the teacher was trained on {_teacher.Shape}. Use the same preprocessing for both.",
                "data");
    }

    private protected override bool TeacherInBFloat16(TorchSharp.torch.Device device, IChannel channel)
    {
        if (Options.TeacherPrecision != TeacherPrecision.BFloat16 || _teacher.Network is OnnxTeacherNetwork)
            return false;
        return Native.BFloat16Support.IsUsedOn(device, channel, Phase, "TeacherPrecision = BFloat16", "the teacher runs in float32");
    }

    private protected override ChannelNormalization CreateNormalization(ImageTensorDataset train)
        => Options.NormalizationMean is null
            ? ChannelNormalization.FromValues(_teacher.Normalization.Mean, _teacher.Normalization.Std, train.Shape.Channels)
            : base.CreateNormalization(train);
}
