// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// NB(n, in -> out, s): n <see cref="WideResNetBlock"/>s, the first with stride s and width change, the rest stride 1.
/// State-dict names: <c>layer.{i}.…</c>, as the reference's <c>NetworkBlock</c>.
/// </summary>
internal sealed class WideResNetStage : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "layer")]
    private readonly Sequential _layer;

    public WideResNetStage(int blocks, int inChannels, int outChannels, int stride)
        : base(nameof(WideResNetStage))
    {
        var modules = new nn.Module<Tensor, Tensor>[blocks];
        for (var i = 0; i < blocks; i++)
        {
            modules[i] = i == 0
                ? new WideResNetBlock(inChannels, outChannels, stride)
                : new WideResNetBlock(outChannels, outChannels, 1);
        }

        _layer = nn.Sequential(modules);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => _layer.call(input);

    /// <summary>The blocks, in forward order (read by the ONNX writer).</summary>
    internal IEnumerable<WideResNetBlock> Blocks => _layer.children().Cast<WideResNetBlock>();
}
