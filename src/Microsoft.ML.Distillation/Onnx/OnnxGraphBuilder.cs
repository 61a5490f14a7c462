// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// Collects the nodes and initializers of one ONNX graph in topological order. Every value and node gets a unique name
/// (a hint, made unique with a numeric suffix when taken), so emitters can name things after the module they come from.
/// Knows nothing about TorchSharp; <see cref="OnnxLayers"/> turns modules into nodes.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensor> _initializers = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Nodes added so far.</summary>
    public IReadOnlyList<OnnxNode> Nodes => _nodes;

    /// <summary>Claims <paramref name="name"/> exactly (a graph input or output); throws when it is taken.</summary>
    public string Reserve(string name)
    {
        if (!_names.Add(name))
        {
            throw new InvalidOperationException($"The ONNX value name '{name}' is already used in this graph.");
        }

        return name;
    }

    /// <summary>A name not used yet: <paramref name="hint"/>, or <paramref name="hint"/>_1, _2, ...</summary>
    public string UniqueName(string hint)
    {
        if (_names.Add(hint))
        {
            return hint;
        }

        for (int i = 1; ; i++)
        {
            string candidate = string.Create(CultureInfo.InvariantCulture, $"{hint}_{i}");
            if (_names.Add(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>Adds a float initializer and returns its name.</summary>
    public string AddInitializer(string hint, long[] dims, float[] values)
    {
        string name = UniqueName(hint);
        _initializers.Add(OnnxTensor.FromFloats(name, dims, values));
        return name;
    }

    /// <summary>Adds an int64 initializer and returns its name.</summary>
    public string AddInt64Initializer(string hint, long[] dims, long[] values)
    {
        string name = UniqueName(hint);
        _initializers.Add(OnnxTensor.FromInt64s(name, dims, values));
        return name;
    }

    /// <summary>
    /// Adds a node with one output and returns the output's name: <paramref name="outputName"/> exactly when given (it must be
    /// free), otherwise a unique name from <paramref name="hint"/>. The node is named after its output.
    /// </summary>
    public string AddNode(string opType, string hint, IReadOnlyList<string> inputs, IReadOnlyList<OnnxAttribute>? attributes = null, string? outputName = null)
    {
        string output = outputName is null ? UniqueName(hint) : Reserve(outputName);
        _nodes.Add(new OnnxNode
        {
            OpType = opType,
            Name = output,
            Inputs = inputs,
            Outputs = [output],
            Attributes = attributes ?? [],
        });
        return output;
    }

    /// <summary>The finished graph.</summary>
    public OnnxGraph Build(string name, IReadOnlyList<OnnxValueInfo> inputs, IReadOnlyList<OnnxValueInfo> outputs)
    {
        var produced = new HashSet<string>(_nodes.Select(n => n.Outputs[0]), StringComparer.Ordinal);
        foreach (var output in outputs)
        {
            if (!produced.Contains(output.Name))
            {
                throw new InvalidOperationException($"Graph output '{output.Name}' is not produced by any node.");
            }
        }

        return new OnnxGraph
        {
            Name = name,
            Nodes = [.. _nodes],
            Initializers = [.. _initializers],
            Inputs = inputs,
            Outputs = outputs,
        };
    }
}
