// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.SimReg;

/// <summary>
/// SimReg's predictor from the student's pooled embedding (width d) to the teacher's (width d_t): four linear layers
/// d → 2d → d → 2d → d_t, batch norm and ReLU after the first and the third (none after the second, as the spec reads the reference).
/// Trained with the student, discarded at inference.
/// </summary>
internal sealed class EmbeddingPredictor : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> _layers;

    public EmbeddingPredictor(long studentWidth, long teacherWidth) : base(nameof(EmbeddingPredictor))
    {
        long d = studentWidth;
        _layers = nn.Sequential(
            ("fc1", nn.Linear(d, 2 * d)), ("bn1", nn.BatchNorm1d(2 * d)), ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(2 * d, d)),
            ("fc3", nn.Linear(d, 2 * d)), ("bn3", nn.BatchNorm1d(2 * d)), ("relu3", nn.ReLU()),
            ("fc4", nn.Linear(2 * d, teacherWidth)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor embedding) => _layers.call(embedding);
}
