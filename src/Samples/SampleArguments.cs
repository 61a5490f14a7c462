// Licensed under the MIT license. See LICENSE in the repository root.

using System.Globalization;

namespace Microsoft.ML.Distillation.Samples;

/// <summary>Command-line options of the sample.</summary>
internal sealed class SampleArguments
{
    public string Architecture { get; private set; } = "resnet8";
    public int Epochs { get; private set; } = 10;
    public int BatchSize { get; private set; } = 64;
    public double LearningRate { get; private set; } = 0.05;
    public int TrainRows { get; private set; } = 5000;
    public int TestRows { get; private set; } = 1000;
    public int Seed { get; private set; } = 1;
    public string DataFolder { get; private set; } = FashionMnist.EmbeddedFolder;
    public string? SavePath { get; private set; }
    public string? CheckpointDirectory { get; private set; }
    public bool Resume { get; private set; }

    private const string Usage = """
        usage: Microsoft.ML.Distillation.Samples [teacher] [options]
          --architecture NAME   network from the zoo (default resnet8)
          --epochs N            training epochs (default 10)
          --batch-size N        images per step (default 64)
          --learning-rate X     initial SGD learning rate (default 0.05)
          --train-rows N        training images to use (default 5000, the embedded subset)
          --test-rows N         test images to use (default 1000)
          --seed N              MLContext seed (default 1)
          --data FOLDER         Fashion-MNIST IDX folder (default: the embedded subset;
                                /usr/share/datasets/fashion-mnist for the full set)
          --save PATH           save the trained teacher
          --checkpoint-dir DIR  write a checkpoint after every epoch
          --resume              continue from the newest checkpoint in --checkpoint-dir
        """;

    public static SampleArguments? Parse(string[] args)
    {
        var a = new SampleArguments();
        int i = 0;
        if (i < args.Length && args[i] == "teacher")
            i++;
        for (; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help")
            {
                Console.WriteLine(Usage);
                return null;
            }
            if (name == "--resume")
            {
                a.Resume = true;
                continue;
            }
            if (i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"{name} needs a value.\n{Usage}");
                return null;
            }
            string value = args[++i];
            try
            {
                switch (name)
                {
                    case "--architecture": a.Architecture = value; break;
                    case "--epochs": a.Epochs = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--batch-size": a.BatchSize = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--learning-rate": a.LearningRate = double.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--train-rows": a.TrainRows = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--test-rows": a.TestRows = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--seed": a.Seed = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--data": a.DataFolder = value; break;
                    case "--save": a.SavePath = value; break;
                    case "--checkpoint-dir": a.CheckpointDirectory = value; break;
                    default:
                        Console.Error.WriteLine($"Unknown option {name}.\n{Usage}");
                        return null;
                }
            }
            catch (FormatException)
            {
                Console.Error.WriteLine($"{name}: '{value}' is not a number.");
                return null;
            }
        }
        return a;
    }
}
