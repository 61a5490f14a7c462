// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Data;

/// <summary>
/// A row whose image cannot be read: the loader failed (missing, empty or not-an-image file), there is no image, or the file's
/// image data is incomplete or corrupt. Thrown by <see cref="ImageRowReader"/> so that <see cref="ImageDatasetReader"/> can leave
/// such rows out on request; problems of the whole column (another size, an unsupported pixel format) are plain
/// <see cref="InvalidOperationException"/>s and are never skipped.
/// </summary>
internal sealed class UnreadableImageException : InvalidOperationException
{
    public UnreadableImageException(string message)
        : base(message)
    {
    }

    public UnreadableImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
