// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Distillation.Tests.Samples;

/// <summary>
/// The photos sample end to end on a small folder of colour PNGs, with the PyTorch fixture (a CIFAR ResNet-8 of 10 classes,
/// eng/make-pretrained-fixture.py) standing in for torchvision's ResNet-18: both fine-tuning steps, the KD student, the ONNX export.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class PhotosExampleTests
{
    [TestMethod]
    public void Photos_FineTunesThePretrainedTeacher_DistilsAndExportsTheStudent()
    {
        string root = Path.Combine(Path.GetTempPath(), $"photos-{Guid.NewGuid():N}");
        string output = Path.Combine(root, "out");
        string images = Path.Combine(root, "images");
        try
        {
            foreach (var row in RealImages.WritePngs(Path.Combine(root, "_all"), 120).Where(r => r.Label is "Trouser" or "Bag" or "Sneaker"))
            {
                string classFolder = Path.Combine(images, row.Label);
                Directory.CreateDirectory(classFolder);
                File.Move(Path.Combine(root, "_all", row.ImagePath), Path.Combine(classFolder, row.ImagePath));
            }
            string pretrained = Path.Combine(AppContext.BaseDirectory, "TestData", "pretrained", "resnet8-checkpoint.pth");

            var result = PhotosExample.Run(images, pretrained, output, imageSize: 32, teacherArchitecture: "resnet8", studentArchitecture: "resnet8",
                frozenEpochs: 1, fineTuneEpochs: 1, studentEpochs: 1);

            Assert.IsTrue(File.Exists(Path.Combine(output, "teacher-step1.zip")), "step 1's teacher is kept for step 2");
            Assert.AreEqual(3, result.Teacher.ConfusionMatrix.NumberOfClasses, "the 10-class head was replaced by one for the folder's 3 classes");
            Assert.AreEqual(3, result.Student.ConfusionMatrix.NumberOfClasses);
            using var session = new InferenceSession(result.StudentOnnxPath);
            CollectionAssert.AreEqual(new[] { -1, 3 }, session.OutputMetadata["probabilities"].Dimensions, "the exported student scores the 3 classes");
            CollectionAssert.AreEqual(new[] { -1, 3, 32, 32 }, session.InputMetadata["pixels"].Dimensions);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
