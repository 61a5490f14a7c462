// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Persistence;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace Microsoft.ML.Distillation.Selection;

/// <summary>
/// The sweep's accuracy-against-cost plot, drawn with OxyPlot on SkiaSharp. (ScottPlot 5.1 would need SkiaSharp 3, which breaks
/// ML.NET 5.0's image transforms in the same process: <c>ResizeImages</c> calls <c>SKBitmap.GetPixelSpan()</c>, removed in SkiaSharp 3.
/// OxyPlot.SkiaSharp 2.2 runs on the SkiaSharp 2.88 that ML.NET uses.)
/// </summary>
internal static class SweepPlot
{
    public static void Save(StudentSweepResult result, string path, SweepCostAxis axis, int width, int height)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        var points = result.Completed.Where(t => t.CostOn(axis) is not null).ToArray();
        if (points.Length == 0)
            throw new InvalidOperationException($"No completed trial has a {axis} figure to plot.");

        var model = new PlotModel { Title = "Validation accuracy against " + Label(axis), Background = OxyColors.White };
        model.Legends.Add(new Legend { LegendPosition = LegendPosition.BottomRight });
        // Margins of a tenth of each range (and at least a little), so that the points and their labels stay inside the frame.
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = Label(axis), MajorGridlineStyle = LineStyle.Dot, MinimumPadding = 0.1, MaximumPadding = 0.1 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "validation accuracy (%)", MajorGridlineStyle = LineStyle.Dot, MinimumPadding = 0.1, MaximumPadding = 0.1 });

        foreach (var group in points.GroupBy(t => t.Method))
        {
            var series = new ScatterSeries { Title = group.Key, MarkerType = MarkerType.Circle, MarkerSize = 5 };
            foreach (var t in group)
                series.Points.Add(new ScatterPoint(t.CostOn(axis)!.Value, t.ValidationAccuracy!.Value * 100));
            model.Series.Add(series);
        }

        var front = new LineSeries { Title = "Pareto front", Color = OxyColors.Black, StrokeThickness = 1.5, MarkerType = MarkerType.None };
        foreach (var t in result.ParetoFront(axis))
            front.Points.Add(new DataPoint(t.CostOn(axis)!.Value, t.ValidationAccuracy!.Value * 100));
        model.Series.Add(front);
        foreach (var t in points)
        {
            model.Annotations.Add(new OxyPlot.Annotations.TextAnnotation
            {
                Text = $"{t.Method} {t.Architecture}", TextPosition = new DataPoint(t.CostOn(axis)!.Value, t.ValidationAccuracy!.Value * 100),
                TextVerticalAlignment = VerticalAlignment.Bottom, FontSize = 9, StrokeThickness = 0,
            });
        }

        var exporter = new OxyPlot.SkiaSharp.PngExporter { Width = width, Height = height };
        AtomicFile.Write(path, stream => exporter.Export(model, stream));
    }

    private static string Label(SweepCostAxis axis) => axis switch
    {
        SweepCostAxis.Latency => "milliseconds per image, batch 1",
        SweepCostAxis.BatchLatency => "milliseconds per image, batched",
        SweepCostAxis.Parameters => "parameters",
        SweepCostAxis.Flops => "FLOPs per image",
        SweepCostAxis.ModelBytes => "model file bytes",
        _ => axis.ToString(),
    };
}
