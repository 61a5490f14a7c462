// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Memory layout of an ONNX teacher's image input.</summary>
public enum OnnxImageLayout
{
    /// <summary>[N, C, H, W] (PyTorch, this library's exports).</summary>
    Nchw = 0,

    /// <summary>[N, H, W, C] (TensorFlow / Keras exports).</summary>
    Nhwc = 1,
}

/// <summary>What an ONNX teacher's output holds.</summary>
public enum OnnxTeacherOutputKind
{
    /// <summary>Unnormalised class scores (logits): used as they are.</summary>
    Logits = 0,

    /// <summary>
    /// Softmax probabilities: their logarithm (clamped at 1e-30) is used as logits. For the logit methods this is exact up to
    /// rounding (a softmax does not change when a constant is added to every logit), except where a probability underflowed to 0.
    /// </summary>
    Probabilities = 1,
}

/// <summary>
/// How to feed an ONNX classifier used as a frozen teacher (<c>mlContext.Distillation.LoadOnnxTeacher</c>). Files exported by this
/// library (<c>ExportOnnx</c>) carry their class names, input shape and normalisation as metadata and need none of these; for other
/// files state the class order and the preprocessing the model was trained with.
/// </summary>
/// <remarks>
/// The teacher sees each training batch after the library's augmentation, as <c>(pixels · <see cref="PixelScale"/> − <see cref="Mean"/>) / <see cref="Std"/></c>
/// per channel, where pixels are in the units of the image column (0..255 for images and byte vectors). The student is normalised the
/// same way unless its options give another normalisation (do not: both networks see one batch). The image column must already have
/// the model's input size: resize with <c>ResizeImages</c> in the pipeline.
/// </remarks>
public sealed class OnnxTeacherOptions
{
    /// <summary>
    /// The class of each output position, in the model's order; the label column's keys must have the same order (fit
    /// <c>MapValueToKey</c> with <c>keyData</c> in this order). Default null: the model's <c>classNames</c> metadata (this library's
    /// exports); required for other files.
    /// </summary>
    public string[]? ClassNames;

    /// <summary>Image column the teacher reads. Default "Image".</summary>
    public string ImageColumnName = TrainingOptions.Defaults.ImageColumnName;

    /// <summary>Name of the model's image input. Default null: the model's only input.</summary>
    public string? InputName;

    /// <summary>Name of the output to distil from. Default null: <c>logits</c> when the model has one, else its first output.</summary>
    public string? OutputName;

    /// <summary>What <see cref="OutputName"/> holds. Default <see cref="OnnxTeacherOutputKind.Logits"/> (this library's exports: <c>logits</c>).</summary>
    public OnnxTeacherOutputKind OutputKind = OnnxTeacherOutputKind.Logits;

    /// <summary>Layout of the input. Default <see cref="OnnxImageLayout.Nchw"/>.</summary>
    public OnnxImageLayout Layout = OnnxImageLayout.Nchw;

    /// <summary>
    /// Channels, height and width of the images the model takes; needed only when the model's input leaves them symbolic.
    /// Default null: read from the model's input shape.
    /// </summary>
    public ImageShape? InputShape;

    /// <summary>Factor applied to raw pixels before <see cref="Mean"/> and <see cref="Std"/>: 1/255 for models trained on 0..1 pixels. Default 1.</summary>
    public float PixelScale = 1f;

    /// <summary>Per-channel mean subtracted after scaling (ImageNet on 0..1 pixels: 0.485, 0.456, 0.406). Default null: 0.</summary>
    public float[]? Mean;

    /// <summary>Per-channel divisor after subtracting <see cref="Mean"/> (ImageNet: 0.229, 0.224, 0.225). Default null: 1.</summary>
    public float[]? Std;

    /// <summary>ONNX Runtime threads for the teacher's forward pass. Default null: ONNX Runtime's default (all cores).</summary>
    public int? IntraOpNumThreads;
}
