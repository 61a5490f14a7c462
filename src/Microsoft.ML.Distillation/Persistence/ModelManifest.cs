// Licensed under the MIT license. See LICENSE in the repository root.

using System.Text.Json.Serialization;

namespace Microsoft.ML.Distillation.Persistence;

/// <summary>
/// <c>manifest.json</c> of a saved model. Format version 1, field by field:
/// <code>
/// format                    "Microsoft.ML.Distillation.Model" (constant; anything else is not our file)
/// formatVersion             1; a reader refuses versions above the one it knows
/// role                      "Teacher" or "Student" (informational)
/// architecture              registry name, e.g. "wrn40_2"
/// inputChannels/Height/Width image shape the network was trained on
/// imageColumnKind           "Image" (MLImage), "SingleVector" or "ByteVector"
/// classCount, rotationCount K, and M = 4 (auxiliary heads have K*M outputs)
/// classNames                K strings from the label's KeyValues (or "0".."K-1")
/// normalizationMean/Std     C floats each, in raw pixel units ((x - mean) / std)
/// imageColumnName, scoreColumnName, predictedLabelColumnName   column names used by the transformer
/// includesAuxiliary         whether the auxiliary.bin entry is present
/// torchSharpVersion         the TorchSharp that wrote the weights (informational)
/// </code>
/// Zip entries: <c>manifest.json</c>, <c>backbone.bin</c> (TorchSharp state dict of the backbone and main head, keys without the
/// <c>backbone.</c> prefix) and, when <c>includesAuxiliary</c>, <c>auxiliary.bin</c> (the auxiliary branches).
/// </summary>
internal sealed class ModelManifest
{
    public const string FormatName = "Microsoft.ML.Distillation.Model";
    public const int CurrentFormatVersion = 1;

    [JsonPropertyName("format")] public string Format { get; set; } = FormatName;
    [JsonPropertyName("formatVersion")] public int FormatVersion { get; set; } = CurrentFormatVersion;
    [JsonPropertyName("role")] public string Role { get; set; } = "";
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("inputChannels")] public int InputChannels { get; set; }
    [JsonPropertyName("inputHeight")] public int InputHeight { get; set; }
    [JsonPropertyName("inputWidth")] public int InputWidth { get; set; }
    [JsonPropertyName("imageColumnKind")] public string ImageColumnKind { get; set; } = "";
    [JsonPropertyName("classCount")] public int ClassCount { get; set; }
    [JsonPropertyName("rotationCount")] public int RotationCount { get; set; }
    [JsonPropertyName("classNames")] public string[] ClassNames { get; set; } = Array.Empty<string>();
    [JsonPropertyName("normalizationMean")] public float[] NormalizationMean { get; set; } = Array.Empty<float>();
    [JsonPropertyName("normalizationStd")] public float[] NormalizationStd { get; set; } = Array.Empty<float>();
    [JsonPropertyName("imageColumnName")] public string ImageColumnName { get; set; } = "";
    [JsonPropertyName("scoreColumnName")] public string ScoreColumnName { get; set; } = "";
    [JsonPropertyName("predictedLabelColumnName")] public string PredictedLabelColumnName { get; set; } = "";
    [JsonPropertyName("includesAuxiliary")] public bool IncludesAuxiliary { get; set; }
    [JsonPropertyName("torchSharpVersion")] public string TorchSharpVersion { get; set; } = "";
}
