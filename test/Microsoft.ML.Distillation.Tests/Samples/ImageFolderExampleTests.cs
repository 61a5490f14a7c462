// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
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
            var files = new MLContext().Distillation.ListImageFolder(root);

            var (teacher, student) = ImageFolderExample.Run(root, imageSize: 32, teacherArchitecture: "resnet8", studentArchitecture: "resnet8",
                teacherEpochs: 1, studentEpochs: 1);

            var paths = files.GetColumn<string>("ImagePath").ToList();
            var labels = files.GetColumn<string>("Label").ToList();
            Assert.HasCount(150, paths);
            CollectionAssert.AreEqual(paths.Order(StringComparer.Ordinal).ToList(), paths, "path order");
            for (int i = 0; i < paths.Count; i++)
                Assert.AreEqual(Path.GetDirectoryName(paths[i]), labels[i], "each image is labelled by its folder, with a path relative to the root");
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

    [TestMethod]
    public void ListImageFolder_RefusesAMissingOrEmptyFolder_NamingIt()
    {
        var ml = new MLContext();
        string missing = Path.Combine(Path.GetTempPath(), $"distill-none-{Guid.NewGuid():N}");
        StringAssert.Contains(Assert.ThrowsExactly<DirectoryNotFoundException>(() => ml.Distillation.ListImageFolder(missing)).Message, missing);

        string empty = Directory.CreateTempSubdirectory("distill-empty-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(empty, "notes.txt"), "not an image");
            var e = Assert.ThrowsExactly<ArgumentException>(() => ml.Distillation.ListImageFolder(empty));
            StringAssert.Contains(e.Message, empty);
            StringAssert.Contains(e.Message, "sub-folder named after the class");
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
