// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Estimators;

/// <summary>Checks of loss options shared by the distillers.</summary>
internal static class LossOptionsValidation
{
    public static void CheckTemperature(double temperature)
    {
        if (!(temperature > 0) || double.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException("Temperature", temperature, "Temperature must be a positive, finite number.");
    }

    public static void CheckWeight(double weight, string name)
    {
        if (!(weight >= 0) || double.IsInfinity(weight))
            throw new ArgumentOutOfRangeException(name, weight, $"{name} must be a finite number >= 0.");
    }
}
