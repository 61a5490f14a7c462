// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Onnx;

/// <summary>
/// An ONNX classifier run by ONNX Runtime behind the <see cref="ClassifierNetwork"/> contract, so the engine holds it as a frozen
/// teacher like any zoo network. It gives logits only: no embedding (an empty [B, 0] tensor), no stage features, no auxiliary
/// branches, no parameters; methods that read more refuse it before training (<see cref="Distillers.IDistillationLoss.ReadsTeacherLogitsOnly"/>).
/// </summary>
/// <remarks>
/// Input: a batch normalised with the teacher's normalisation (the engine feeds the student's batch, and the student uses the
/// teacher's normalisation), on any device. When the model normalises inside its graph (this library's exports take raw
/// <c>pixels</c>), the normalisation is undone first. The batch runs in one ONNX Runtime call when the model's batch dimension is
/// symbolic, else in chunks of the fixed batch (the last one zero-padded). Gradients never reach it.
/// </remarks>
internal sealed class OnnxTeacherNetwork : ClassifierNetwork
{
    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly string _outputName;
    private readonly OnnxTeacherOutputKind _outputKind;
    private readonly OnnxImageLayout _layout;
    private readonly int _fixedBatch;
    private readonly float[]? _undoMean;
    private readonly float[]? _undoStd;
    private readonly nn.Module _empty = nn.Sequential();

    public OnnxTeacherNetwork(InferenceSession session, string inputName, string outputName, OnnxTeacherOutputKind outputKind,
        OnnxImageLayout layout, int fixedBatch, ImageShape shape, int classCount, float[]? undoMean, float[]? undoStd)
        : base(nameof(OnnxTeacherNetwork), "onnx", shape.Channels, classCount, rotationCount: 1)
    {
        _session = session;
        _inputName = inputName;
        _outputName = outputName;
        _outputKind = outputKind;
        _layout = layout;
        _fixedBatch = fixedBatch;
        Shape = shape;
        _undoMean = undoMean;
        _undoStd = undoStd;
        PrefersChannelsLast = false;
        ComputeAuxiliary = false;
    }

    /// <summary>Throws when <paramref name="network"/> is an ONNX teacher: it has no weights of its own to save or export.</summary>
    public static void RefuseSaving(ClassifierNetwork network, string what)
    {
        if (network is OnnxTeacherNetwork)
            throw new NotSupportedException(
                $"An ONNX teacher cannot be {what}: it is the .onnx file it was loaded from. Keep that file and load it again with mlContext.Distillation.LoadOnnxTeacher.");
    }

    /// <summary>The C x H x W the model takes.</summary>
    public ImageShape Shape { get; }

    /// <inheritdoc/>
    public override int EmbeddingSize => 0;

    /// <inheritdoc/>
    public override int AuxiliaryBranchCount => 0;

    /// <inheritdoc/>
    public override nn.Module Backbone => _empty;

    /// <inheritdoc/>
    public override nn.Module Auxiliary => _empty;

    /// <inheritdoc/>
    public override IReadOnlyList<string> HeadTensorNames => [];

    /// <inheritdoc/>
    public override NetworkOutput forward(Tensor input)
    {
        var logits = ForwardLogits(input);
        return new NetworkOutput(logits, zeros(new long[] { input.shape[0], 0 }, device: input.device), [], []);
    }

    /// <inheritdoc/>
    public override Tensor ForwardLogits(Tensor input)
    {
        if (input.dim() != 4 || input.shape[1] != Shape.Channels || input.shape[2] != Shape.Height || input.shape[3] != Shape.Width)
            throw new ArgumentException(
                $"The ONNX teacher takes [N, {Shape.Channels}, {Shape.Height}, {Shape.Width}] batches; got [{string.Join(", ", input.shape)}].", nameof(input));
        int rows = checked((int)input.shape[0]);
        float[] pixels = ModelInput(input);
        int chunk = _fixedBatch > 0 ? _fixedBatch : rows;
        int perImage = Shape.Size;
        var logits = new float[rows * ClassCount];
        for (int start = 0; start < rows; start += chunk)
        {
            int count = Math.Min(chunk, rows - start);
            // One call for the whole batch feeds the pixels as they are; a fixed batch size copies each chunk (the last zero-padded).
            float[] buffer = chunk == rows ? pixels : new float[chunk * perImage];
            if (chunk != rows)
                Array.Copy(pixels, start * perImage, buffer, 0, count * perImage);
            var dims = _layout == OnnxImageLayout.Nchw
                ? new[] { chunk, Shape.Channels, Shape.Height, Shape.Width }
                : new[] { chunk, Shape.Height, Shape.Width, Shape.Channels };
            var inputs = new[] { NamedOnnxValue.CreateFromTensor(_inputName, new DenseTensor(buffer, dims)) };
            using var results = _session.Run(inputs, [_outputName]);
            var output = results[0].AsEnumerable<float>().ToArray();
            if (output.Length != chunk * ClassCount)
                throw new InvalidOperationException(
                    $"The ONNX teacher's output '{_outputName}' has {output.Length} values for {chunk} images; expected {chunk} x {ClassCount} classes.");
            Array.Copy(output, 0, logits, start * ClassCount, count * ClassCount);
        }

        using var scope = NewDisposeScope();
        var result = tensor(logits, new long[] { rows, ClassCount });
        if (_outputKind == OnnxTeacherOutputKind.Probabilities)
            result = result.clamp_min(1e-30).log_();
        return result.to(input.device).MoveToOuterDisposeScope();
    }

    /// <summary>The batch as the model takes it: normalisation undone when the graph normalises, NHWC when asked, on the CPU.</summary>
    private float[] ModelInput(Tensor input)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = input.detach().to(ScalarType.Float32).cpu();
        if (_undoMean is not null && _undoStd is not null)
        {
            var mean = tensor(_undoMean).reshape(1, -1, 1, 1);
            var std = tensor(_undoStd).reshape(1, -1, 1, 1);
            x = x.mul(std).add_(mean);
        }
        if (_layout == OnnxImageLayout.Nhwc)
            x = x.permute(0, 2, 3, 1);
        return x.contiguous().data<float>().ToArray();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _session.Dispose();
            _empty.Dispose();
        }
        base.Dispose(disposing);
    }
}
