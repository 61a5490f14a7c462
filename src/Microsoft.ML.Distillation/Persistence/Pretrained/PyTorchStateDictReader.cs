// Licensed under the MIT license. See LICENSE in the repository root.

using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Persistence.Pretrained;

/// <summary>
/// Reads a PyTorch state dict from a file through TorchSharp.PyBridge: <c>torch.save</c> archives (<c>.pt</c>, <c>.pth</c>,
/// <c>.bin</c>, <c>.tar</c>) and <c>.safetensors</c>. Training checkpoints that wrap the state dict
/// (<c>{'net': ...}</c> in HSAKD, <c>{'model': ...}</c> in RepDistiller, <c>{'state_dict': ...}</c> in many trainers) are
/// unwrapped. The caller owns (and disposes) the returned tensors.
/// </summary>
internal static class PyTorchStateDictReader
{
    /// <summary>Keys under which training scripts commonly store the network's state dict, in the order they are tried.</summary>
    public static readonly IReadOnlyList<string> WrapperKeys = ["state_dict", "model_state_dict", "model", "net", "module"];

    /// <summary>The file extensions read as <c>torch.save</c> archives.</summary>
    public static readonly IReadOnlyList<string> PickleExtensions = [".pt", ".pth", ".bin", ".tar", ".ckpt"];

    /// <summary>Reads the state dict in <paramref name="path"/>: tensor name to tensor, on the CPU, in the file's order.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a state dict this reader understands; the message says why.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Pretrained weights: no file at '{Path.GetFullPath(path)}'.", path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension == ".safetensors" || PickleExtensions.Contains(extension))
        {
            // The readers' temporaries die with this scope; the state dict's tensors leave it, owned by the caller.
            using var scope = NewDisposeScope();
            var result = extension == ".safetensors" ? ReadSafetensors(path) : ReadPickle(path);
            foreach (var tensor in result.Values)
                tensor.DetachFromDisposeScope();
            return result;
        }
        throw new InvalidDataException(
            $"Pretrained weights '{path}': unknown file type '{extension}'. Expected a PyTorch state dict saved with torch.save " +
            $"({string.Join(", ", PickleExtensions)}) or a .safetensors file.");
    }

    private static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        try
        {
            return new Dictionary<string, Tensor>(Safetensors.LoadStateDict(path), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Pretrained weights '{path}': not a readable .safetensors file ({e.Message}).", e);
        }
    }

    private static Dictionary<string, Tensor> ReadPickle(string path)
    {
        Hashtable root;
        try
        {
            root = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (NotImplementedException e) when (e.Message.Contains("entire model", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Pretrained weights '{path}' holds a whole pickled model, not a state dict. In Python, save the weights alone: " +
                "torch.save(model.state_dict(), path).", e);
        }
        catch (NotImplementedException e) when (e.Message.Contains("old PyTorch format", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Pretrained weights '{path}' was saved in PyTorch's legacy (pre-1.6, non-zip) format. Re-save it with a current " +
                "PyTorch: torch.save(torch.load(path), new_path).", e);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not InvalidDataException)
        {
            throw new InvalidDataException($"Pretrained weights '{path}': not a readable torch.save file ({e.GetType().Name}: {e.Message}).", e);
        }

        var stateDict = FindStateDict(root);
        if (stateDict is null)
        {
            DisposeTensors(root);
            var keys = root.Keys.Cast<object>().Select(k => $"'{k}'").Order(StringComparer.Ordinal);
            throw new InvalidDataException(
                $"Pretrained weights '{path}': found no state dict. The file's top-level keys are {string.Join(", ", keys)}; expected " +
                $"tensors, or a dictionary of tensors under one of {string.Join(", ", WrapperKeys.Select(k => $"'{k}'"))}.");
        }

        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in stateDict)
        {
            if (entry.Value is Tensor tensor && entry.Key is string name)
                result[name] = tensor;
        }
        // Whatever else the checkpoint carried (optimiser state, other tensors) is released now.
        DisposeTensors(root, keep: new HashSet<object>(result.Values, ReferenceEqualityComparer.Instance));
        return result;
    }

    /// <summary>The table of tensors: the root itself when it holds tensors, else the first wrapper key that does.</summary>
    private static Hashtable? FindStateDict(Hashtable root)
    {
        if (root.Values.OfType<Tensor>().Any())
            return root;
        foreach (var key in WrapperKeys)
        {
            if (root[key] is Hashtable inner && inner.Values.OfType<Tensor>().Any())
                return inner;
        }
        return null;
    }

    private static void DisposeTensors(object? value, HashSet<object>? keep = null)
    {
        switch (value)
        {
            case Tensor tensor when keep is null || !keep.Contains(tensor):
                tensor.Dispose();
                break;
            case IDictionary dictionary:
                foreach (var inner in dictionary.Values)
                    DisposeTensors(inner, keep);
                break;
            case IEnumerable sequence when value is not string:
                foreach (var inner in sequence)
                    DisposeTensors(inner, keep);
                break;
        }
    }
}
