// Licensed under the MIT license. See LICENSE in the repository root.

using System.Runtime.CompilerServices;

namespace Microsoft.ML.Distillation;

/// <summary>Adds <c>mlContext.Distillation</c> to <see cref="MLContext"/> (a C# 14 extension property).</summary>
public static class DistillationMLContextExtensions
{
    private static readonly ConditionalWeakTable<MLContext, DistillationCatalog> s_catalogs = new();

    extension(MLContext mlContext)
    {
        /// <summary>Knowledge distillation for image classifiers: teachers, distilled students and model loading. One catalog per context.</summary>
        public DistillationCatalog Distillation => s_catalogs.GetValue(mlContext, static c => new DistillationCatalog(c));
    }

    /// <summary>The same catalog as <c>mlContext.Distillation</c>, for languages without extension properties.</summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <returns>The context's distillation catalog.</returns>
    public static DistillationCatalog GetDistillationCatalog(this MLContext mlContext) => s_catalogs.GetValue(mlContext, static c => new DistillationCatalog(c));
}
