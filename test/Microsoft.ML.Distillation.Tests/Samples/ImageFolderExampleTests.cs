// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Samples;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ImageFolderExampleTests
{
    [TestMethod]
    public void ReadmePipeline_FromAFolderOfLabelledImages_TrainsTeacherAndStudent()
    {
        string root = Path.Combine(Path.GetTempPath(), $"distill-folder-{Guid.NewGuid():N}");
        try
        {
            // Real Fashion-MNIST images as PNG files, one sub-folder per class.
            foreach (var row in RealImages.WritePngs(Path.Combine(root, "_all"), 150))
            {
                string classFolder = Path.Combine(root, row.Label.Replace('/', '-'));
                Directory.CreateDirectory(classFolder);
                File.Move(Path.Combine(root, "_all", row.ImagePath), Path.Combine(classFolder, row.ImagePath));
            }
            Directory.Delete(Path.Combine(root, "_all"));
            var files = ImageFolderExample.ListImages(root);

            var (teacher, student) = ImageFolderExample.Run(root, imageSize: 32, teacherArchitecture: "resnet8", studentArchitecture: "resnet8",
                teacherEpochs: 1, studentEpochs: 1);

            Assert.HasCount(150, files);
            Assert.IsTrue(files.All(f => f.Label.Length > 0 && !f.ImagePath.StartsWith('/')));
            Assert.AreEqual(10, teacher.ConfusionMatrix.NumberOfClasses);
            Assert.AreEqual(10, student.ConfusionMatrix.NumberOfClasses);
            double teacherRows = teacher.ConfusionMatrix.Counts.Sum(r => r.Sum());
            double studentRows = student.ConfusionMatrix.Counts.Sum(r => r.Sum());
            Assert.IsGreaterThan(0, studentRows, "the held-out split is not empty");
            Assert.IsLessThan(150, studentRows, "only the 20% split is evaluated, not all 150 images");
            Assert.AreEqual(teacherRows, studentRows, "teacher and student are evaluated on the same held-out rows");
            StringAssert.Contains(student.ConfusionMatrix.GetFormattedConfusionTable(), "Trouser");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
