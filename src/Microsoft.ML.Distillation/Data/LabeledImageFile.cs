// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>A row of <c>mlContext.Distillation.ListImageFolder</c>: an image file and its class.</summary>
public sealed class LabeledImageFile
{
    /// <summary>Path of the image relative to the listed folder (give the folder to <c>LoadImages</c> as its <c>imageFolder</c>).</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>The class: the name of the folder that holds the image.</summary>
    public string Label { get; set; } = "";

    /// <summary>The image files under <paramref name="folder"/>, in ordinal path order, labelled by their parent folder.</summary>
    internal static List<LabeledImageFile> List(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"The image folder '{folder}' does not exist.");
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(p => Path.GetExtension(p).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".bmp")
            .Order(StringComparer.Ordinal)
            .Select(p => new LabeledImageFile { ImagePath = Path.GetRelativePath(folder, p), Label = Path.GetFileName(Path.GetDirectoryName(p)!) })
            .ToList();
        if (files.Count == 0)
            throw new ArgumentException(
                $"The image folder '{folder}' holds no .png, .jpg, .jpeg or .bmp files. Put each class's images in a sub-folder named after the class.",
                nameof(folder));
        return files;
    }
}
