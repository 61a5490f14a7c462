// Licensed under the MIT license. See LICENSE in the repository root.

using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>
/// Colour photos of any size (one sub-folder per class) → a teacher fine-tuned from pretrained PyTorch weights (torchvision's
/// ImageNet ResNet-18, for example) → a small student distilled with KD → both evaluated → the student exported to ONNX. Run it with
/// <c>dotnet run -c Release --project src/Samples -- photos FOLDER [--pretrained resnet18.pth] [--size 112]</c>.
/// </summary>
/// <remarks>
/// The teacher follows the fine-tuning recipe: first the HSAKD auxiliary branches (and the main head, replaced for the folder's
/// classes) train on the frozen pretrained backbone, then everything trains together with the pretrained part at a tenth of the
/// learning rate, starting from the first step's model with its branches. Without <c>--pretrained</c> the teacher trains from scratch.
/// Images are resized to 112x112 by default (a CPU budget; 224 is ImageNet's size and the better choice on a GPU).
/// </remarks>
public static class PhotosExample
{
    /// <summary>ImageNet's per-channel mean and standard deviation, in 0..255 pixel units (what torchvision's weights expect).</summary>
    public static readonly float[] ImageNetMean = [0.485f * 255, 0.456f * 255, 0.406f * 255];

    /// <inheritdoc cref="ImageNetMean"/>
    public static readonly float[] ImageNetStd = [0.229f * 255, 0.224f * 255, 0.225f * 255];

    /// <summary>What the run produced.</summary>
    /// <param name="Teacher">The teacher's metrics on the held-out 20 %.</param>
    /// <param name="Student">The student's metrics on the same rows.</param>
    /// <param name="StudentOnnxPath">Where the student's ONNX file was written.</param>
    public sealed record Result(MulticlassClassificationMetrics Teacher, MulticlassClassificationMetrics Student, string StudentOnnxPath);

    /// <summary>Fine-tunes (or trains) the teacher, distils the student, evaluates both and exports the student.</summary>
    /// <param name="folder">Photos, one sub-folder per class.</param>
    /// <param name="pretrainedPath">PyTorch weights for the teacher (.pth/.pt/.safetensors), or null to train it from scratch.</param>
    /// <param name="outputFolder">Where the step-1 teacher and student.onnx go.</param>
    /// <param name="imageSize">Side of the square images the networks see.</param>
    /// <param name="teacherArchitecture">The teacher's zoo name; the pretrained file must be of this architecture.</param>
    /// <param name="studentArchitecture">The student's zoo name.</param>
    /// <param name="frozenEpochs">Epochs of step 1 (branches and head on the frozen backbone).</param>
    /// <param name="fineTuneEpochs">Epochs of step 2 (everything), or of the teacher from scratch.</param>
    /// <param name="studentEpochs">Epochs of the student.</param>
    /// <param name="log">Receives each epoch's metrics.</param>
    public static Result Run(string folder, string? pretrainedPath, string outputFolder, int imageSize = 112,
        string teacherArchitecture = "resnet18", string studentArchitecture = "resnet8",
        int frozenEpochs = 5, int fineTuneEpochs = 15, int studentEpochs = 30, Action<TrainingMetrics>? log = null)
    {
        Directory.CreateDirectory(outputFolder);
        var ml = new MLContext(seed: 1);
        IDataView photos = ml.Distillation.ListImageFolder(folder);
        var split = ml.Data.TrainTestSplit(photos, testFraction: 0.2, seed: 1);
        var prep = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: folder, inputColumnName: "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Image", imageWidth: imageSize, imageHeight: imageSize));

        ITransformer teacher;
        if (pretrainedPath is null)
        {
            teacher = prep.Append(ml.Distillation.Teacher(new TeacherOptions
            {
                Architecture = teacherArchitecture, Epochs = fineTuneEpochs, MetricsCallback = log,
            })).Fit(split.TrainSet);
        }
        else
        {
            // Step 1: the backbone as PyTorch trained it, frozen; the replaced head and the auxiliary branches learn the classes.
            var frozen = prep.Append(ml.Distillation.Teacher(new TeacherOptions
            {
                Architecture = teacherArchitecture,
                Mode = TeacherTrainingMode.FrozenBackbone,
                PretrainedWeightsPath = pretrainedPath,
                NormalizationMean = ImageNetMean,
                NormalizationStd = ImageNetStd,
                Epochs = frozenEpochs,
                MetricsCallback = log,
            })).Fit(split.TrainSet);
            string step1 = Path.Combine(outputFolder, "teacher-step1.zip");
            frozen.LastTransformer.Save(step1);

            // Step 2: everything, the pretrained part at a tenth of the rate, from step 1's model and branches.
            teacher = prep.Append(ml.Distillation.Teacher(new TeacherOptions
            {
                Architecture = teacherArchitecture,
                InitialModelPath = step1,
                KeepInitialAuxiliaryBranches = true,
                PretrainedLearningRateFactor = TeacherOptions.DefaultPretrainedLearningRateFactor,
                NormalizationMean = ImageNetMean,
                NormalizationStd = ImageNetStd,
                Epochs = fineTuneEpochs,
                MetricsCallback = log,
            })).Fit(split.TrainSet);
        }

        var student = prep.Append(ml.Distillation.Kd(teacher, new KdOptions
        {
            Architecture = studentArchitecture, Epochs = studentEpochs, MetricsCallback = log,
        })).Fit(split.TrainSet);

        string onnx = Path.Combine(outputFolder, "student.onnx");
        student.LastTransformer.ExportOnnx(onnx);
        return new Result(
            ml.MulticlassClassification.Evaluate(teacher.Transform(split.TestSet)),
            ml.MulticlassClassification.Evaluate(student.Transform(split.TestSet)),
            onnx);
    }

    /// <summary>The <c>photos</c> command line (<c>--help</c> lists the options).</summary>
    public static int RunCommandLine(string[] args)
    {
        var folder = new Argument<string>("folder") { Description = "Photos, one sub-folder per class (any size, colour)." };
        var pretrained = new Option<string?>("--pretrained") { Description = "PyTorch weights of the teacher architecture (.pth, .pt, .safetensors), e.g. torchvision's resnet18; omit to train the teacher from scratch." };
        var size = new Option<int>("--size") { Description = "Side of the square images: 112 on a CPU, 224 (ImageNet's) on a GPU.", DefaultValueFactory = _ => 112 };
        var teacher = new Option<string>("--teacher") { Description = "Teacher architecture (the pretrained file's).", DefaultValueFactory = _ => "resnet18" };
        var student = new Option<string>("--student") { Description = "Student architecture.", DefaultValueFactory = _ => "resnet8" };
        var epochs = new Option<int>("--epochs") { Description = "Fine-tuning epochs of the teacher (plus a third as many on the frozen backbone first); the student trains twice as many.", DefaultValueFactory = _ => 15 };
        var output = new Option<string>("--out") { Description = "Folder for the step-1 teacher and student.onnx.", DefaultValueFactory = _ => "photos-out" };
        var command = new RootCommand("Fine-tune a pretrained teacher on a folder of photos, distil a small student with KD, evaluate both, export the student to ONNX.")
        {
            folder, pretrained, size, teacher, student, epochs, output,
        };
        command.SetAction(parsed =>
        {
            int teacherEpochs = parsed.GetValue(epochs);
            var result = Run(parsed.GetValue(folder)!, parsed.GetValue(pretrained), parsed.GetValue(output)!, parsed.GetValue(size),
                parsed.GetValue(teacher)!, parsed.GetValue(student)!, frozenEpochs: Math.Max(1, teacherEpochs / 3), fineTuneEpochs: teacherEpochs,
                studentEpochs: 2 * teacherEpochs, log: m => Console.WriteLine("  " + m));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Teacher test accuracy {result.Teacher.MicroAccuracy:P2}, KD student {result.Student.MicroAccuracy:P2}; student exported to {result.StudentOnnxPath}"));
            Console.WriteLine(result.Student.ConfusionMatrix.GetFormattedConfusionTable());
            return 0;
        });
        return command.Parse(args).Invoke();
    }
}
