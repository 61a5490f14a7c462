// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Methods.MixSkd;

/// <summary>
/// One step's mixup pairing: λ ~ Beta(α, α) and a permutation π of the batch, drawn on the host from a seed (the step's), so that a
/// run and its resumption draw the same pairs on any machine. Beta from two Gamma draws (Marsaglia–Tsang; α &lt; 1 through
/// Gamma(α + 1)·U^(1/α)), normals by Box–Muller, the permutation by Fisher–Yates.
/// </summary>
internal sealed record MixupDraw(double Lambda, int[] Permutation)
{
    /// <summary>The pairing of a batch of <paramref name="batchSize"/> images for <paramref name="seed"/>.</summary>
    public static MixupDraw For(long seed, int batchSize, double alpha)
    {
        var random = new Random(unchecked((int)seed ^ (int)(seed >> 32)));
        double x = Gamma(random, alpha), y = Gamma(random, alpha);
        double lambda = x + y > 0 ? x / (x + y) : 0.5;
        var permutation = Enumerable.Range(0, batchSize).ToArray();
        for (int i = batchSize - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        return new MixupDraw(lambda, permutation);
    }

    /// <summary>A Gamma(<paramref name="shape"/>, 1) draw.</summary>
    internal static double Gamma(Random random, double shape)
    {
        if (shape < 1)
            return Gamma(random, shape + 1) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double z, v;
            do
            {
                z = Normal(random);
                v = 1 + c * z;
            }
            while (v <= 0);
            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < 0.5 * z * z + d - d * v + d * Math.Log(v))
                return d * v;
        }
    }

    private static double Normal(Random random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
