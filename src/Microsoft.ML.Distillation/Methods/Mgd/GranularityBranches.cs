// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Mgd;

/// <summary>The sizes and temperatures of MGD's two granularities (distillers.md §6, distillers-more.md §8).</summary>
/// <param name="NarrowCodeSize">Code size of the narrow ("high-pressure") branch; the reference's 64.</param>
/// <param name="NarrowTemperature">Its temperature; the reference's 2.</param>
/// <param name="WideCodeSize">Code size of the wide ("low-pressure") branch; the reference's 256.</param>
/// <param name="WideTemperature">Its temperature; the reference's 8.</param>
internal sealed record Granularities(int NarrowCodeSize, double NarrowTemperature, int WideCodeSize, double WideTemperature)
{
    /// <summary>The reference's 64 / T 2 and 256 / T 8.</summary>
    public static Granularities Reference { get; } = new(64, 2, 256, 8);
}

/// <summary>What the teacher's two branches make of a batch of embeddings: each branch's code and its decoded class logits.</summary>
internal readonly record struct GranularityOutput(Tensor NarrowCode, Tensor NarrowLogits, Tensor WideCode, Tensor WideLogits);

/// <summary>
/// MGD's teacher self-analysing module: two branches on the teacher's pooled embedding h (size d), each an encoder
/// <c>d → d → k</c> (Linear-ReLU-Linear) to a k-dimensional code and a decoder <c>k → d → C</c> back to class logits; k = 64 for the
/// narrow branch and 256 for the wide one. Trained in MGD's pre-stage on the frozen teacher (<see cref="MgdTeacherBranchLoss"/>), then
/// frozen while students train.
/// </summary>
internal sealed class TeacherGranularityBranches : nn.Module
{
    [ComponentName(Name = "narrow_encoder")]
    private readonly TwoLayerPerceptron _narrowEncoder;

    [ComponentName(Name = "narrow_decoder")]
    private readonly TwoLayerPerceptron _narrowDecoder;

    [ComponentName(Name = "wide_encoder")]
    private readonly TwoLayerPerceptron _wideEncoder;

    [ComponentName(Name = "wide_decoder")]
    private readonly TwoLayerPerceptron _wideDecoder;

    /// <param name="embeddingSize">d: the teacher's embedding size.</param>
    /// <param name="classCount">C.</param>
    /// <param name="granularities">Code sizes.</param>
    public TeacherGranularityBranches(int embeddingSize, int classCount, Granularities granularities)
        : base(nameof(TeacherGranularityBranches))
    {
        _narrowEncoder = new TwoLayerPerceptron(embeddingSize, embeddingSize, granularities.NarrowCodeSize);
        _narrowDecoder = new TwoLayerPerceptron(granularities.NarrowCodeSize, embeddingSize, classCount);
        _wideEncoder = new TwoLayerPerceptron(embeddingSize, embeddingSize, granularities.WideCodeSize);
        _wideDecoder = new TwoLayerPerceptron(granularities.WideCodeSize, embeddingSize, classCount);
        RegisterComponents();
    }

    /// <summary>Both branches on [R, d] embeddings: codes [R, k] and logits [R, C].</summary>
    public GranularityOutput Forward(Tensor embedding)
    {
        var narrowCode = _narrowEncoder.call(embedding);
        var wideCode = _wideEncoder.call(embedding);
        return new GranularityOutput(narrowCode, _narrowDecoder.call(narrowCode), wideCode, _wideDecoder.call(wideCode));
    }
}

/// <summary>
/// The student's two MGD encoders, <c>d_s → d_s → k</c> for the narrow and the wide code, trained from scratch with the student and
/// dropped afterwards (the fitted model does not carry them). The reference also builds student decoders but never uses them; they
/// are left out.
/// </summary>
internal sealed class StudentGranularityEncoders : nn.Module
{
    [ComponentName(Name = "narrow_encoder")]
    private readonly TwoLayerPerceptron _narrow;

    [ComponentName(Name = "wide_encoder")]
    private readonly TwoLayerPerceptron _wide;

    /// <param name="embeddingSize">d_s: the student's embedding size.</param>
    /// <param name="granularities">Code sizes.</param>
    public StudentGranularityEncoders(int embeddingSize, Granularities granularities)
        : base(nameof(StudentGranularityEncoders))
    {
        _narrow = new TwoLayerPerceptron(embeddingSize, embeddingSize, granularities.NarrowCodeSize);
        _wide = new TwoLayerPerceptron(embeddingSize, embeddingSize, granularities.WideCodeSize);
        RegisterComponents();
    }

    /// <summary>Narrow and wide codes of [R, d_s] embeddings.</summary>
    public (Tensor Narrow, Tensor Wide) Forward(Tensor embedding) => (_narrow.call(embedding), _wide.call(embedding));
}
