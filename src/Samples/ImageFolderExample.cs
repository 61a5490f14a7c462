// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>
/// The README's pipeline: a folder of labelled images (one sub-folder per class) → LoadImages/ResizeImages → an HSAKD teacher
/// → an HSAKD student → Evaluate. Run it with <c>dotnet run -c Release --project src/Samples -- images FOLDER</c>.
/// </summary>
public static class ImageFolderExample
{
    /// <summary>Trains a teacher and an HSAKD student on 80% of the images and evaluates both on the other 20%.</summary>
    public static (MulticlassClassificationMetrics Teacher, MulticlassClassificationMetrics Student) Run(
        string folder, int imageSize = 32, string teacherArchitecture = "wrn40_2", string studentArchitecture = "wrn16_2",
        int teacherEpochs = 240, int studentEpochs = 240, Action<TrainingMetrics>? log = null)
    {
        // --- the README example, line for line ---
        var ml = new MLContext(seed: 1);
        IDataView images = ml.Distillation.ListImageFolder(folder);   // ImagePath, Label
        var split = ml.Data.TrainTestSplit(images, testFraction: 0.2, seed: 1);

        var prep = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: folder, inputColumnName: "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Image", imageWidth: imageSize, imageHeight: imageSize));

        var teacher = prep.Append(ml.Distillation.Teacher(new TeacherOptions
        {
            Architecture = teacherArchitecture,
            Epochs = teacherEpochs,
            MetricsCallback = log,
        })).Fit(split.TrainSet);

        var student = prep.Append(ml.Distillation.Hsakd(teacher, new HsakdOptions
        {
            Architecture = studentArchitecture,
            Epochs = studentEpochs,
            MetricsCallback = log,
        })).Fit(split.TrainSet);

        var teacherMetrics = ml.MulticlassClassification.Evaluate(teacher.Transform(split.TestSet));
        var studentMetrics = ml.MulticlassClassification.Evaluate(student.Transform(split.TestSet));
        // --- end of the README example ---
        return (teacherMetrics, studentMetrics);
    }
}
