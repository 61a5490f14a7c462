// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>Checks of loss options shared by the distillers.</summary>
internal static class LossOptionsValidation
{
    public static void CheckTemperature(double temperature, string name = "Temperature")
    {
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(name, temperature, $"{name} must be a positive, finite number.");
    }

    public static void CheckRatio(double ratio, string name)
    {
        if (!(ratio >= 0 && ratio <= 1))
            throw new ArgumentOutOfRangeException(name, ratio, $"{name} must be between 0 and 1 (the share of the rows the teacher gets wrong that are still transferred).");
    }

    public static void CheckWeight(double weight, string name)
    {
        if (!(weight >= 0) || double.IsInfinity(weight))
            throw new ArgumentOutOfRangeException(name, weight, $"{name} must be a finite number >= 0.");
    }
}
