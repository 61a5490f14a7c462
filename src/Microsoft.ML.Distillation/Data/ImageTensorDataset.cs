// Licensed under the MIT license. See LICENSE in the repository root.

using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// Training images decoded once from an <see cref="IDataView"/>: raw pixels [N, C, H, W] on the CPU
/// (uint8 for image and byte-vector columns, float32 for float-vector columns, values as the user gave them)
/// and 0-based class indices [N] (int64). The training loop gathers batches from here and never touches rows again.
/// </summary>
internal sealed class ImageTensorDataset : IDisposable
{
    public ImageTensorDataset(Tensor images, Tensor labels, ImageShape shape, int classCount, string[] classNames)
    {
        Images = images;
        Labels = labels;
        Shape = shape;
        ClassCount = classCount;
        ClassNames = classNames;
    }

    /// <summary>Raw pixels, [N, C, H, W], uint8 or float32, on the CPU.</summary>
    public Tensor Images { get; }

    /// <summary>Class indices 0..K-1 (the key value minus one), [N], int64, on the CPU.</summary>
    public Tensor Labels { get; }

    /// <summary>Channels, height and width of every image.</summary>
    public ImageShape Shape { get; }

    /// <summary>K: the label column's key count.</summary>
    public int ClassCount { get; }

    /// <summary>Class names from the label's KeyValues annotation, or "0".."K-1" when it has none.</summary>
    public string[] ClassNames { get; }

    /// <summary>Number of rows.</summary>
    public int Count => (int)Images.shape[0];

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
