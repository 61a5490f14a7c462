// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.FitNet;

/// <summary>
/// FitNet's regressor from the student's hint map to the teacher's (RepDistiller's choice of layer by map size): a 3x3 stride-2
/// convolution when the student's map is twice the teacher's, a 4x4 stride-2 transposed convolution when it is half, a
/// (1 + ΔH) x (1 + ΔW) convolution when it is larger by ΔH, ΔW (1x1 when equal); then batch norm and ReLU to the teacher's channels.
/// Trained with the student, saved in checkpoints, not part of the fitted model.
/// </summary>
internal sealed class HintRegressor : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _layer;
    private readonly nn.Module<Tensor, Tensor> _norm;

    public HintRegressor((long Channels, long Height, long Width) student, (long Channels, long Height, long Width) teacher) : base(nameof(HintRegressor))
    {
        var (sc, sh, sw) = student;
        var (tc, th, tw) = teacher;
        if (sh == 2 * th && sw == 2 * tw)
            _layer = nn.Conv2d(sc, tc, kernel_size: 3, stride: 2, padding: 1);
        else if (2 * sh == th && 2 * sw == tw)
            _layer = nn.ConvTranspose2d(sc, tc, kernel_size: 4, stride: 2, padding: 1);
        else if (sh >= th && sw >= tw)
            _layer = nn.Conv2d(sc, tc, kernel_size: (1 + sh - th, 1 + sw - tw));
        else
            throw new ArgumentException(
                $"FitNet cannot regress the student's {sh}x{sw} hint map to the teacher's {th}x{tw}: the student's map must be twice, half, " +
                "or at least the teacher's size in each direction. Choose another HintStage or another student.", nameof(FitNetOptions.HintStage));
        _norm = nn.BatchNorm2d(tc);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => nn.functional.relu(_norm.call(_layer.call(input)));
}
