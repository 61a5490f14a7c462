// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// Implemented by a module whose own forward applies a batch norm directly to the output of a convolution,
/// <c>norm(conv(x))</c>, through <see cref="BatchNormFolding.ConvolutionThenNorm"/>, with nothing else reading the
/// convolution's raw output. Such pairs can be folded into the convolution for inference (<see cref="BatchNormFolding.FoldInPlace"/>).
/// </summary>
/// <remarks>
/// Opting in is a promise about the forward code: every pair listed here must be applied through
/// <see cref="BatchNormFolding.ConvolutionThenNorm"/>. A module that does not implement the interface is never folded and
/// stays correct. The test that compares every registered architecture folded and unfolded checks the promise.
/// </remarks>
internal interface IFoldableConvolutionNorms
{
    /// <summary>The (convolution, batch norm) pairs of this module (not of its children), in any order.</summary>
    IEnumerable<(Conv2d Convolution, BatchNorm2d Norm)> ConvolutionNormPairs { get; }
}

/// <summary>
/// Folding eval-mode batch norms into the convolutions they follow: with <c>s = γ / sqrt(σ² + ε)</c> per output channel,
/// <c>W' = W · s</c> and <c>b' = (b − μ) · s + β</c>. The one place this arithmetic lives: the ONNX writer and the
/// inference-only teacher (<see cref="FoldInPlace"/>) both use it.
/// </summary>
/// <remarks>
/// Only a batch norm that reads a convolution's output and nothing else can be folded. Pre-activation batch norms
/// (WRN's <c>bn1</c>, which reads a residual sum) and batch norms after a residual add stay eval-mode batch norms,
/// which libtorch already evaluates as one per-channel scale and shift.
/// </remarks>
internal static class BatchNormFolding
{
    private static readonly ConditionalWeakTable<BatchNorm2d, object> s_folded = new();

    /// <summary>
    /// A batch norm in eval mode as <c>y = x · scale + shift</c> per channel, computed in float64 on the CPU:
    /// <c>scale = γ / sqrt(σ² + ε)</c>, <c>shift = β − μ · scale</c>. The tensors belong to the caller's dispose scope.
    /// </summary>
    /// <exception cref="NotSupportedException">The batch norm keeps no running statistics.</exception>
    public static (Tensor Scale, Tensor Shift) Affine(BatchNorm2d norm)
    {
        if (norm.running_mean is null || norm.running_var is null)
        {
            throw new NotSupportedException("A batch norm without running statistics cannot be folded.");
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long channels = norm.num_features;
        var mean = AsDouble(norm.running_mean);
        var variance = AsDouble(norm.running_var);
        var gamma = norm.weight is null ? ones(channels, dtype: ScalarType.Float64) : AsDouble(norm.weight);
        var beta = norm.bias is null ? zeros(channels, dtype: ScalarType.Float64) : AsDouble(norm.bias);
        // A Scalar held for the whole call: `variance + norm.eps` makes a temporary Scalar that the GC may finalise while libtorch
        // still reads it (seen twice in CI as "toDouble ... Expected false to be true" here).
        using var epsilon = norm.eps.ToScalar();
        var scale = gamma / variance.add(epsilon).sqrt();
        var shift = beta - mean * scale;
        return (scale.MoveToOuterDisposeScope(), shift.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The weight and bias of <paramref name="convolution"/> with <paramref name="norm"/> folded in, in float64 on the CPU
    /// (<c>W' = W · scale</c> per output channel, <c>b' = b · scale + shift</c>, b = 0 when the convolution has no bias).
    /// The tensors belong to the caller's dispose scope.
    /// </summary>
    public static (Tensor Weight, Tensor Bias) Fold(Conv2d convolution, BatchNorm2d norm)
    {
        if (norm.num_features != convolution.out_channels)
        {
            throw new ArgumentException(
                $"The batch norm has {norm.num_features} channels but the convolution {convolution.out_channels} outputs.", nameof(norm));
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (scale, shift) = Affine(norm);
        var weight = AsDouble(convolution.weight!) * scale.reshape(-1, 1, 1, 1);
        var bias = convolution.bias is null ? shift : AsDouble(convolution.bias) * scale + shift;
        return (weight.MoveToOuterDisposeScope(), bias.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Folds, in place, every pair listed by the <see cref="IFoldableConvolutionNorms"/> modules of <paramref name="root"/>
    /// (itself included): the convolution takes the folded weight and bias (in its own dtype and device), and the batch
    /// norm is marked so that <see cref="ConvolutionThenNorm"/> skips it. Returns the number of batch norms folded.
    /// </summary>
    /// <remarks>
    /// The result is for inference only: call it on a private copy in eval mode (the folded network must never train,
    /// and <see cref="ConvolutionThenNorm"/> refuses a folded pair in training mode). Batch norms that are not listed stay.
    /// </remarks>
    public static int FoldInPlace(nn.Module root)
    {
        int folded = 0;
        using var noGrad = no_grad();
        foreach (var module in root.modules().Prepend(root).Distinct())
        {
            if (module is not IFoldableConvolutionNorms owner)
            {
                continue;
            }

            foreach (var (convolution, norm) in owner.ConvolutionNormPairs)
            {
                if (IsFolded(norm))
                {
                    continue;
                }

                using var scope = NewDisposeScope();
                var weight = convolution.weight!;
                var (foldedWeight, foldedBias) = Fold(convolution, norm);
                weight.copy_(foldedWeight.to(weight.dtype, weight.device));
                if (convolution.bias is { } bias)
                {
                    bias.copy_(foldedBias.to(bias.dtype, bias.device));
                }
                else
                {
                    convolution.bias = nn.Parameter(foldedBias.to(weight.dtype, weight.device), requires_grad: false);
                }

                s_folded.Add(norm, new object());
                folded++;
            }
        }

        return folded;
    }

    /// <summary>True when <paramref name="norm"/> has been folded into the convolution before it.</summary>
    public static bool IsFolded(BatchNorm2d norm) => s_folded.TryGetValue(norm, out _);

    /// <summary>
    /// <c>norm(convolution(input))</c>, or just <c>convolution(input)</c> once the pair has been folded. The convolution's
    /// raw output is released as soon as the norm has read it. The result belongs to the caller's dispose scope.
    /// </summary>
    /// <exception cref="InvalidOperationException">The pair is folded but the norm is in training mode.</exception>
    public static Tensor ConvolutionThenNorm(Conv2d convolution, BatchNorm2d norm, Tensor input)
    {
        if (IsFolded(norm))
        {
            if (norm.training)
            {
                throw new InvalidOperationException(
                    "This network's batch norms are folded into its convolutions; it is for inference only and cannot run in training mode.");
            }

            return convolution.call(input);
        }

        using var scope = NewDisposeScope();
        return norm.call(convolution.call(input)).MoveToOuterDisposeScope();
    }

    private static Tensor AsDouble(Tensor tensor) => tensor.detach().cpu().to_type(ScalarType.Float64);
}
