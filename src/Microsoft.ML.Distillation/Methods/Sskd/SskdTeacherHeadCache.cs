// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Sskd;

/// <summary>
/// Trained SSKD teacher heads (stage 2), remembered per fitted teacher: a sweep of SSKD students over one teacher and the same data and
/// stage-2 settings trains the head once. Entries live as long as the teacher object does, and hold the head's weights as managed
/// arrays (no native memory).
/// </summary>
internal static class SskdTeacherHeadCache
{
    private static readonly ConditionalWeakTable<TrainedClassifier, Dictionary<TeacherHeadKey, HeadWeights>> s_cache = new();

    /// <summary>
    /// Everything that determines the trained head besides the teacher itself: the data's fingerprint (<see cref="Fingerprint"/>),
    /// the stage-2 schedule and optimiser, its seed, the augmentation, the device and the normalisation.
    /// </summary>
    internal sealed record TeacherHeadKey(
        string DataFingerprint, int Epochs, double LearningRate, int BatchSize, double Momentum, bool Nesterov, double WeightDecay,
        int Seed, int RandomCropPadding, bool HorizontalFlip, string Device, string NormalizationMean, string NormalizationStd);

    /// <summary>Weights of a head by state-dict name: shape and values.</summary>
    private sealed record HeadWeights(Dictionary<string, (long[] Shape, float[] Values)> Tensors);

    /// <summary>Number of heads remembered for <paramref name="teacher"/> (tests).</summary>
    public static int CountFor(TrainedClassifier teacher)
    {
        lock (s_cache)
            return s_cache.TryGetValue(teacher, out var heads) ? heads.Count : 0;
    }

    /// <summary>Loads the remembered weights into <paramref name="head"/> and returns true, or returns false when there are none.</summary>
    public static bool TryLoad(TrainedClassifier teacher, TeacherHeadKey key, ProjectionHead head)
    {
        HeadWeights? weights;
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(teacher, out var heads) || !heads.TryGetValue(key, out weights))
                return false;
        }

        using var noGrad = no_grad();
        foreach (var (name, parameter) in head.named_parameters())
        {
            var (shape, values) = weights.Tensors[name];
            using var source = tensor(values, shape);
            parameter.copy_(source);
        }

        return true;
    }

    /// <summary>Remembers the weights of a trained <paramref name="head"/>.</summary>
    public static void Store(TrainedClassifier teacher, TeacherHeadKey key, ProjectionHead head)
    {
        var tensors = new Dictionary<string, (long[] Shape, float[] Values)>();
        foreach (var (name, parameter) in head.named_parameters())
        {
            using var cpu = parameter.detach().cpu().contiguous();
            tensors[name] = (cpu.shape, cpu.data<float>().ToArray());
        }

        lock (s_cache)
            s_cache.GetOrCreateValue(teacher)[key] = new HeadWeights(tensors);
    }

    /// <summary>SHA-256 (hex) of the dataset's raw pixels, labels and shape: same data, same fingerprint.</summary>
    public static string Fingerprint(ImageTensorDataset data)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var images = data.Images.contiguous();
        using var labels = data.Labels.contiguous();
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{data.Shape};{data.Count};{data.ClassCount};{images.dtype};"));
        sha.AppendData(images.bytes);
        sha.AppendData(labels.bytes);
        return Convert.ToHexString(sha.GetHashAndReset());
    }
}
