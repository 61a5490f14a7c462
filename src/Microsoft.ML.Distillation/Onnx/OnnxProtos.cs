// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Onnx;

// The subset of the ONNX protobuf schema (onnx.proto, IR version 7) that the writer needs, written by hand from the
// published field numbers. Each class is one message; the comment on each field gives its number in the schema.
// Only what an inference graph of float tensors uses is here: no sparse tensors, sub-graphs, functions or training info.

/// <summary>ONNX element types (<c>TensorProto.DataType</c>) the writer uses.</summary>
internal enum OnnxElementType
{
    /// <summary>float32.</summary>
    Float = 1,

    /// <summary>int64.</summary>
    Int64 = 7,
}

/// <summary><c>AttributeProto.AttributeType</c> values the writer uses.</summary>
internal enum OnnxAttributeType
{
    /// <summary>A single float (field f).</summary>
    Float = 1,

    /// <summary>A single int64 (field i).</summary>
    Int = 2,

    /// <summary>A list of int64 (field ints).</summary>
    Ints = 7,
}

/// <summary><c>ModelProto</c>: the file. Fields 1 ir_version, 2 producer_name, 3 producer_version, 4 domain, 5 model_version, 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props.</summary>
internal sealed class OnnxModel : ProtoMessage
{
    public required long IrVersion { get; init; }

    public required string ProducerName { get; init; }

    public required string ProducerVersion { get; init; }

    public string Domain { get; init; } = "";

    public long ModelVersion { get; init; } = 1;

    public string DocString { get; init; } = "";

    public required OnnxGraph Graph { get; init; }

    /// <summary>Operator sets: (domain, version); "" is the default ONNX domain.</summary>
    public required IReadOnlyList<(string Domain, long Version)> OpsetImports { get; init; }

    /// <summary>Free-form key/value metadata (ONNX Runtime exposes it as <c>ModelMetadata.CustomMetadataMap</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; init; } = [];

    public override void WriteTo(ProtoWriter writer)
    {
        writer.WriteInt64(1, IrVersion);
        writer.WriteString(2, ProducerName);
        writer.WriteString(3, ProducerVersion);
        if (Domain.Length > 0)
        {
            writer.WriteString(4, Domain);
        }

        writer.WriteInt64(5, ModelVersion);
        if (DocString.Length > 0)
        {
            writer.WriteString(6, DocString);
        }

        writer.WriteMessage(7, Graph);
        foreach (var (domain, version) in OpsetImports)
        {
            writer.WriteMessage(8, new OnnxOperatorSetId(domain, version));
        }

        foreach (var entry in Metadata)
        {
            writer.WriteMessage(14, new OnnxStringEntry(entry.Key, entry.Value));
        }
    }

    /// <summary>Writes the whole model to <paramref name="stream"/> (which stays open).</summary>
    public void WriteTo(Stream stream) => WriteTo(ProtoWriter.Create(stream));
}

/// <summary><c>OperatorSetIdProto</c>: 1 domain, 2 version.</summary>
internal sealed class OnnxOperatorSetId(string domain, long version) : ProtoMessage
{
    public override void WriteTo(ProtoWriter writer)
    {
        writer.WriteString(1, domain);
        writer.WriteInt64(2, version);
    }
}

/// <summary><c>StringStringEntryProto</c>: 1 key, 2 value.</summary>
internal sealed class OnnxStringEntry(string key, string value) : ProtoMessage
{
    public override void WriteTo(ProtoWriter writer)
    {
        writer.WriteString(1, key);
        writer.WriteString(2, value);
    }
}

/// <summary><c>GraphProto</c>: 1 node, 2 name, 5 initializer, 10 doc_string, 11 input, 12 output.</summary>
internal sealed class OnnxGraph : ProtoMessage
{
    public required string Name { get; init; }

    /// <summary>Nodes in topological order.</summary>
    public required IReadOnlyList<OnnxNode> Nodes { get; init; }

    public required IReadOnlyList<OnnxTensor> Initializers { get; init; }

    public required IReadOnlyList<OnnxValueInfo> Inputs { get; init; }

    public required IReadOnlyList<OnnxValueInfo> Outputs { get; init; }

    public string DocString { get; init; } = "";

    public override void WriteTo(ProtoWriter writer)
    {
        foreach (var node in Nodes)
        {
            writer.WriteMessage(1, node);
        }

        writer.WriteString(2, Name);
        foreach (var initializer in Initializers)
        {
            writer.WriteMessage(5, initializer);
        }

        if (DocString.Length > 0)
        {
            writer.WriteString(10, DocString);
        }

        foreach (var input in Inputs)
        {
            writer.WriteMessage(11, input);
        }

        foreach (var output in Outputs)
        {
            writer.WriteMessage(12, output);
        }
    }
}

/// <summary><c>NodeProto</c>: 1 input, 2 output, 3 name, 4 op_type, 5 attribute.</summary>
internal sealed class OnnxNode : ProtoMessage
{
    public required string OpType { get; init; }

    public required string Name { get; init; }

    public required IReadOnlyList<string> Inputs { get; init; }

    public required IReadOnlyList<string> Outputs { get; init; }

    public IReadOnlyList<OnnxAttribute> Attributes { get; init; } = [];

    public override void WriteTo(ProtoWriter writer)
    {
        foreach (var input in Inputs)
        {
            writer.WriteString(1, input);
        }

        foreach (var output in Outputs)
        {
            writer.WriteString(2, output);
        }

        writer.WriteString(3, Name);
        writer.WriteString(4, OpType);
        foreach (var attribute in Attributes)
        {
            writer.WriteMessage(5, attribute);
        }
    }
}

/// <summary><c>AttributeProto</c>: 1 name, 2 f, 3 i, 8 ints, 20 type.</summary>
internal sealed class OnnxAttribute : ProtoMessage
{
    private OnnxAttribute(string name, OnnxAttributeType type)
    {
        Name = name;
        Type = type;
    }

    public string Name { get; }

    public OnnxAttributeType Type { get; }

    private float FloatValue { get; init; }

    private long IntValue { get; init; }

    private IReadOnlyList<long> IntValues { get; init; } = [];

    public static OnnxAttribute Float(string name, float value) => new(name, OnnxAttributeType.Float) { FloatValue = value };

    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeType.Int) { IntValue = value };

    public static OnnxAttribute Ints(string name, params long[] values) => new(name, OnnxAttributeType.Ints) { IntValues = values };

    public override void WriteTo(ProtoWriter writer)
    {
        writer.WriteString(1, Name);
        switch (Type)
        {
            case OnnxAttributeType.Float:
                writer.WriteFloat(2, FloatValue);
                break;
            case OnnxAttributeType.Int:
                writer.WriteInt64(3, IntValue);
                break;
            case OnnxAttributeType.Ints:
                writer.WriteInt64s(8, IntValues);
                break;
            default:
                throw new InvalidOperationException($"Attribute type {Type} is not supported by the writer.");
        }

        writer.WriteInt64(20, (long)Type);
    }
}

/// <summary>
/// <c>TensorProto</c> with its data in <c>raw_data</c> (little-endian): 1 dims, 2 data_type, 8 name, 9 raw_data.
/// </summary>
internal sealed class OnnxTensor : ProtoMessage
{
    private OnnxTensor(string name, long[] dims, OnnxElementType type)
    {
        Name = name;
        Dims = dims;
        ElementType = type;
    }

    public string Name { get; }

    public IReadOnlyList<long> Dims { get; }

    public OnnxElementType ElementType { get; }

    private float[] FloatData { get; init; } = [];

    private long[] Int64Data { get; init; } = [];

    /// <summary>A float tensor; <paramref name="values"/> must hold the product of <paramref name="dims"/> values, row-major.</summary>
    public static OnnxTensor FromFloats(string name, long[] dims, float[] values)
    {
        CheckCount(name, dims, values.Length);
        return new OnnxTensor(name, dims, OnnxElementType.Float) { FloatData = values };
    }

    /// <summary>An int64 tensor.</summary>
    public static OnnxTensor FromInt64s(string name, long[] dims, long[] values)
    {
        CheckCount(name, dims, values.Length);
        return new OnnxTensor(name, dims, OnnxElementType.Int64) { Int64Data = values };
    }

    public override void WriteTo(ProtoWriter writer)
    {
        writer.WriteInt64s(1, Dims);
        writer.WriteInt64(2, (long)ElementType);
        writer.WriteString(8, Name);
        if (ElementType == OnnxElementType.Float)
        {
            writer.WriteFloatsAsBytes(9, FloatData);
        }
        else
        {
            var bytes = new byte[Int64Data.Length * sizeof(long)];
            for (int i = 0; i < Int64Data.Length; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), Int64Data[i]);
            }

            writer.WriteBytes(9, bytes);
        }
    }

    private static void CheckCount(string name, long[] dims, int count)
    {
        long expected = 1;
        foreach (long dim in dims)
        {
            expected *= dim;
        }

        if (expected != count)
        {
            throw new ArgumentException($"Tensor '{name}' has dims [{string.Join(", ", dims)}] ({expected} values) but {count} values were given.");
        }
    }
}

/// <summary>
/// <c>ValueInfoProto</c> of a tensor (1 name, 2 type, 3 doc_string), with its <c>TypeProto.Tensor</c> (1 elem_type, 2 shape) and
/// <c>TensorShapeProto</c> (1 dim; each <c>Dimension</c> 1 dim_value or 2 dim_param).
/// </summary>
internal sealed class OnnxValueInfo : ProtoMessage
{
    public required string Name { get; init; }

    public required OnnxElementType ElementType { get; init; }

    /// <summary>The dimensions: a number, or a symbolic name (a dynamic dimension such as the batch).</summary>
    public required IReadOnlyList<OnnxDimension> Shape { get; init; }

    public string DocString { get; init; } = "";

    public override void WriteTo(ProtoWriter writer)
    {
        writer.WriteString(1, Name);
        writer.WriteMessage(2, new TypeMessage(this));
        if (DocString.Length > 0)
        {
            writer.WriteString(3, DocString);
        }
    }

    /// <summary>TypeProto { tensor_type = 1 }.</summary>
    private sealed class TypeMessage(OnnxValueInfo info) : ProtoMessage
    {
        public override void WriteTo(ProtoWriter writer) => writer.WriteMessage(1, new TensorTypeMessage(info));
    }

    /// <summary>TypeProto.Tensor { elem_type = 1, shape = 2 }.</summary>
    private sealed class TensorTypeMessage(OnnxValueInfo info) : ProtoMessage
    {
        public override void WriteTo(ProtoWriter writer)
        {
            writer.WriteInt64(1, (long)info.ElementType);
            writer.WriteMessage(2, new ShapeMessage(info.Shape));
        }
    }

    /// <summary>TensorShapeProto { repeated Dimension dim = 1 }.</summary>
    private sealed class ShapeMessage(IReadOnlyList<OnnxDimension> shape) : ProtoMessage
    {
        public override void WriteTo(ProtoWriter writer)
        {
            foreach (var dimension in shape)
            {
                writer.WriteMessage(1, new DimensionMessage(dimension));
            }
        }
    }

    /// <summary>Dimension { dim_value = 1 | dim_param = 2 }.</summary>
    private sealed class DimensionMessage(OnnxDimension dimension) : ProtoMessage
    {
        public override void WriteTo(ProtoWriter writer)
        {
            if (dimension.Parameter is { } parameter)
            {
                writer.WriteString(2, parameter);
            }
            else
            {
                writer.WriteInt64(1, dimension.Value);
            }
        }
    }
}

/// <summary>One dimension of a declared shape: a fixed <paramref name="Value"/>, or a symbolic <paramref name="Parameter"/>.</summary>
internal readonly record struct OnnxDimension(long Value, string? Parameter = null)
{
    public static implicit operator OnnxDimension(long value) => new(value);

    public static OnnxDimension Symbolic(string name) => new(0, name);
}
