// Licensed under the MIT license. See LICENSE in the repository root.
//
// The main job: pretrain an HSAKD teacher on the embedded Fashion-MNIST subset through an ML.NET pipeline,
// then evaluate it on held-out images and print accuracy and the confusion matrix.
//
//   dotnet run --project src/Samples                       (defaults below, a few minutes on 2 cores)
//   dotnet run --project src/Samples -- teacher --architecture wrn16_2 --epochs 10 --train-rows 5000
//   dotnet run -c Release --project src/Samples -- fidelity [options]   (the HSAKD vs KD vs baseline benchmark; hours)
//   dotnet run -c Release --project src/Samples -- images FOLDER [EPOCHS] (teacher + HSAKD student on a folder of labelled images)
//   dotnet run -c Release --project src/Samples -- photos FOLDER [--pretrained resnet18.pth] (fine-tune a pretrained teacher on photos,
//                                                                          distil a KD student, export it to ONNX; --help)
//   dotnet run -c Release --project src/Samples -- online [hsakd|mcl|ffl] [EPOCHS] (no teacher: two peers teach each other; OnlineExample.cs)
//   dotnet run -c Release --project src/Samples -- custom-method          (a student distilled with a method of your own: CustomMethodExample.cs)
//   dotnet run -c Release --project src/Samples -- sweep [FOLDER]         (choosing a student: one teacher, 9 candidates, the accuracy/latency front;
//                                                                          --prepare, --shard i/N, --merge split it over processes; --help)

using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Distillation;
using Microsoft.ML.Distillation.Samples;

if (args.Length > 0 && args[0] == "fidelity")
    return FidelityBenchmark.Run(args[1..]);
if (args.Length > 1 && args[0] == "images")
{
    int epochs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 240;
    var (teacherMetrics, studentMetrics) = ImageFolderExample.Run(args[1], teacherEpochs: epochs, studentEpochs: epochs, log: m => Console.WriteLine("  " + m));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Teacher test accuracy {teacherMetrics.MicroAccuracy:P2}, HSAKD student {studentMetrics.MicroAccuracy:P2}"));
    Console.WriteLine(studentMetrics.ConfusionMatrix.GetFormattedConfusionTable());
    return 0;
}

if (args.Length > 0 && args[0] == "photos")
    return PhotosExample.RunCommandLine(args[1..]);

if (args.Length > 0 && args[0] == "sweep")
    return SweepExample.Run(args[1..]);

if (args.Length > 0 && args[0] == "sweep-benchmark")
    return SweepBenchmark.Run(args[1..]);

if (args.Length > 0 && args[0] == "online")
    return OnlineExample.RunCommandLine(args[1..]);

if (args.Length > 0 && args[0] == "custom-method")
{
    var studentMetrics = CustomMethodExample.Run(log: m => Console.WriteLine("  " + m));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"KD-LS student test accuracy {studentMetrics.MicroAccuracy:P2}"));
    return 0;
}

var arguments = SampleArguments.Parse(args);
if (arguments is null)
    return 2;

var ml = new MLContext(seed: arguments.Seed);
var train = FashionMnist.Load(ml, arguments.DataFolder, "train", arguments.TrainRows);
var test = FashionMnist.Load(ml, arguments.DataFolder, "t10k", arguments.TestRows);
Console.WriteLine($"Fashion-MNIST from {arguments.DataFolder}: {train.GetRowCount()} training and {test.GetRowCount()} test images, 1x28x28.");

// Labels become keys; the teacher reads the 1x28x28 byte vector "Image" and the key "Label".
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Distillation.Teacher(new TeacherOptions
    {
        Architecture = arguments.Architecture,
        Epochs = arguments.Epochs,
        BatchSize = arguments.BatchSize,
        LearningRate = arguments.LearningRate,
        MetricsCallback = m => Console.WriteLine("  " + m),
        CheckpointDirectory = arguments.CheckpointDirectory,
        Resume = arguments.Resume,
    }));

Console.WriteLine($"Training a {arguments.Architecture} teacher with HSAKD auxiliary branches for {arguments.Epochs} epochs...");
var started = DateTime.UtcNow;
var model = pipeline.Fit(train);
Console.WriteLine($"Trained in {(DateTime.UtcNow - started).TotalSeconds:F0} s.");

var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Test accuracy (micro): {metrics.MicroAccuracy:P2}   macro: {metrics.MacroAccuracy:P2}   log-loss: {metrics.LogLoss:F4}"));
Console.WriteLine(metrics.ConfusionMatrix.GetFormattedConfusionTable());

if (arguments.SavePath is not null)
{
    model.LastTransformer.Save(arguments.SavePath);
    Console.WriteLine($"Teacher saved to {arguments.SavePath}.");
}
return 0;
