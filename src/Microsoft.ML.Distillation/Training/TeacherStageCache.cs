// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// Modules trained in a pre-stage on a frozen teacher (SSKD's projection head, MGD's granularity branches), remembered per fitted
/// teacher: a sweep of students over one teacher and the same data and stage settings trains them once. Entries live as long as the
/// teacher object does, and hold the weights as managed arrays (no native memory). A key is any value-equal object (a record) that
/// holds everything the trained weights depend on besides the teacher: see <see cref="TeacherStage"/>.
/// </summary>
internal static class TeacherStageCache
{
    private static readonly ConditionalWeakTable<TrainedClassifier, Dictionary<object, ModuleWeights>> s_cache = new();

    /// <summary>Weights of a module by state-dict name: shape and values.</summary>
    private sealed record ModuleWeights(Dictionary<string, (long[] Shape, float[] Values)> Tensors);

    /// <summary>Number of modules remembered for <paramref name="teacher"/> (tests).</summary>
    public static int CountFor(TrainedClassifier teacher)
    {
        lock (s_cache)
            return s_cache.TryGetValue(teacher, out var modules) ? modules.Count : 0;
    }

    /// <summary>Loads the remembered weights into <paramref name="module"/> and returns true, or returns false when there are none.</summary>
    public static bool TryLoad(TrainedClassifier teacher, object key, nn.Module module)
    {
        ModuleWeights? weights;
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(teacher, out var modules) || !modules.TryGetValue(key, out weights))
                return false;
        }

        using var noGrad = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            var (shape, values) = weights.Tensors[name];
            using var source = tensor(values, shape);
            parameter.copy_(source);
        }

        return true;
    }

    /// <summary>Remembers the weights of a trained <paramref name="module"/>.</summary>
    public static void Store(TrainedClassifier teacher, object key, nn.Module module)
    {
        var tensors = new Dictionary<string, (long[] Shape, float[] Values)>();
        foreach (var (name, parameter) in module.named_parameters())
        {
            using var cpu = parameter.detach().cpu().contiguous();
            tensors[name] = (cpu.shape, cpu.data<float>().ToArray());
        }

        lock (s_cache)
            s_cache.GetOrCreateValue(teacher)[key] = new ModuleWeights(tensors);
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
