// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Networks;

/// <summary>
/// The weight initialisations of the reference model zoo (HSAKD / RepDistiller), applied to every matching
/// module under a root. Each helper runs under <c>no_grad</c>.
/// </summary>
internal static class NetworkInitialization
{
    /// <summary>
    /// Convolution weights ~ N(0, sqrt(2 / (k_h * k_w * C_out))): Kaiming normal, fan_out, ReLU gain.
    /// Conv biases, where present, are set to 0.
    /// </summary>
    public static void KaimingNormalConvolutions(nn.Module root)
    {
        using var noGrad = no_grad();
        foreach (var module in root.modules())
        {
            if (module is Conv2d conv)
            {
                nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                if (conv.bias is { } bias)
                {
                    nn.init.zeros_(bias);
                }
            }
        }
    }

    /// <summary>BatchNorm: weight (gamma) 1, bias (beta) 0.</summary>
    public static void ResetBatchNorms(nn.Module root)
    {
        using var noGrad = no_grad();
        foreach (var module in root.modules())
        {
            if (module is BatchNorm2d norm)
            {
                nn.init.ones_(norm.weight);
                if (norm.bias is { } bias)
                {
                    nn.init.zeros_(bias);
                }
            }
        }
    }

    /// <summary>Linear biases 0; weights keep their (PyTorch-default) initialisation.</summary>
    public static void ZeroLinearBiases(nn.Module root)
    {
        using var noGrad = no_grad();
        foreach (var module in root.modules())
        {
            if (module is Linear linear && linear.bias is { } bias)
            {
                nn.init.zeros_(bias);
            }
        }
    }

    /// <summary>Linear weights ~ N(0, <paramref name="std"/>) and biases 0.</summary>
    public static void NormalLinears(nn.Module root, double std)
    {
        using var noGrad = no_grad();
        foreach (var module in root.modules())
        {
            if (module is Linear linear)
            {
                nn.init.normal_(linear.weight, 0, std);
                if (linear.bias is { } bias)
                {
                    nn.init.zeros_(bias);
                }
            }
        }
    }
}
