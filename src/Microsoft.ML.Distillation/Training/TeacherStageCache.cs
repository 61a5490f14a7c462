// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.ML.Distillation.Persistence;
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
/// <remarks>
/// A teacher may also be given a folder (<see cref="PersistTo"/>; a sweep's output folder does this): the weights are then written there
/// too, one file per stage named by a hash of the teacher's weights and the key, so another process (a resumed sweep, another shard)
/// with the same teacher reads them back instead of training the stage again.
/// </remarks>
internal static class TeacherStageCache
{
    private static readonly ConditionalWeakTable<TrainedClassifier, Dictionary<object, ModuleWeights>> s_cache = new();
    private static readonly ConditionalWeakTable<TrainedClassifier, DiskLocation> s_folders = new();
    private static readonly ConditionalWeakTable<TrainedClassifier, StrongBox<int>> s_trainedCounts = new();

    /// <summary>Where a teacher's stage weights are persisted, and the hash of the teacher's weights that names them.</summary>
    private sealed record DiskLocation(string Folder, string TeacherFingerprint);

    /// <summary>Also keeps the stages of <paramref name="teacher"/> as files in <paramref name="folder"/> (created when needed).</summary>
    public static void PersistTo(TrainedClassifier teacher, string folder)
    {
        string fingerprint = Fingerprint(teacher);
        lock (s_cache)
            s_folders.AddOrUpdate(teacher, new DiskLocation(Path.GetFullPath(folder), fingerprint));
    }

    /// <summary>Stops writing <paramref name="teacher"/>'s stages to the folder <see cref="PersistTo"/> gave (the sweep that set it has ended).</summary>
    public static void StopPersisting(TrainedClassifier teacher)
    {
        lock (s_cache)
            s_folders.Remove(teacher);
    }

    /// <summary>How many times a stage was trained (not loaded) for <paramref name="teacher"/> in this process (tests).</summary>
    public static int TrainedCountFor(TrainedClassifier teacher)
    {
        lock (s_cache)
            return s_trainedCounts.TryGetValue(teacher, out var count) ? count.Value : 0;
    }

    /// <summary>Counts one training of a stage for <paramref name="teacher"/>.</summary>
    public static void CountTraining(TrainedClassifier teacher)
    {
        lock (s_cache)
            s_trainedCounts.GetOrCreateValue(teacher).Value++;
    }

    /// <summary>Weights and buffers of a module by state-dict name: shape and values (float32; the stage modules are float32).</summary>
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
        DiskLocation? disk;
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(teacher, out var modules) || !modules.TryGetValue(key, out weights))
                weights = null;
            s_folders.TryGetValue(teacher, out disk);
        }

        if (weights is null)
        {
            string? file = disk is null ? null : FilePath(disk, key);
            if (file is null || !File.Exists(file))
                return false;
            using (var stream = File.OpenRead(file))
            using (var reader = new BinaryReader(stream))
                module.load(reader, strict: true);
            Remember(teacher, key, module);
            return true;
        }

        using var noGrad = no_grad();
        foreach (var (name, value) in module.state_dict())
        {
            var (shape, values) = weights.Tensors[name];
            using var source = tensor(values, shape);
            value.copy_(source);
        }

        return true;
    }

    /// <summary>Remembers the weights of a trained <paramref name="module"/> (and writes them to the teacher's folder, if it has one).</summary>
    public static void Store(TrainedClassifier teacher, object key, nn.Module module)
    {
        Remember(teacher, key, module);
        DiskLocation? disk;
        lock (s_cache)
            s_folders.TryGetValue(teacher, out disk);
        if (disk is null)
            return;
        Directory.CreateDirectory(disk.Folder);
        AtomicFile.Write(FilePath(disk, key), stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            module.save(writer);
        });
    }

    private static void Remember(TrainedClassifier teacher, object key, nn.Module module)
    {
        var tensors = new Dictionary<string, (long[] Shape, float[] Values)>();
        foreach (var (name, value) in module.state_dict())
        {
            using var cpu = value.detach().cpu().to(ScalarType.Float32).contiguous();
            tensors[name] = (cpu.shape, cpu.data<float>().ToArray());
        }

        lock (s_cache)
            s_cache.GetOrCreateValue(teacher)[key] = new ModuleWeights(tensors);
    }

    /// <summary>
    /// The stage's file: SHA-256 of the teacher's weights and of the key as JSON (records of numbers and strings, written the same on
    /// every machine and culture).
    /// </summary>
    private static string FilePath(DiskLocation disk, object key)
    {
        string json = JsonSerializer.Serialize(key, key.GetType());
        string hash = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(disk.TeacherFingerprint + "|" + json)));
        return Path.Combine(disk.Folder, hash[..32].ToLowerInvariant() + ".stage");
    }

    /// <summary>SHA-256 (hex) of a teacher network's parameters and buffers, in state-dict order.</summary>
    private static string Fingerprint(TrainedClassifier teacher)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, value) in teacher.Network.state_dict())
        {
            using var cpu = value.detach().cpu().contiguous();
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{name};{cpu.dtype};{string.Join(",", cpu.shape)};"));
            sha.AppendData(cpu.bytes);
        }

        return Convert.ToHexString(sha.GetHashAndReset());
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
