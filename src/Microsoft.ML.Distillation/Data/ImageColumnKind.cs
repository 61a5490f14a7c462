// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation.Data;

/// <summary>The forms of image column that <see cref="ImageSchemaValidator"/> accepts.</summary>
internal enum ImageColumnKind
{
    /// <summary>An <c>MLImage</c> column (<c>ImageDataViewType</c>) from LoadImages or ResizeImages. Decoded to 3-channel RGB bytes.</summary>
    Image,

    /// <summary>A known-size vector of <see cref="byte"/> holding planar C*H*W pixels.</summary>
    ByteVector,

    /// <summary>A known-size vector of <see cref="float"/> holding planar C*H*W pixels (for example ExtractPixels output).</summary>
    SingleVector,
}
