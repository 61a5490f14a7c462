// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Native;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class NativeHeapTests
{
    [TestMethod]
    public void Trim_WorksOnLinux_AndIsANoOpElsewhere()
    {
        Assert.AreEqual(OperatingSystem.IsLinux(), NativeHeap.Trim());
    }

    [TestMethod]
    public void ReleaseMemoryEachStep_DoesNotChangeTheModel()
    {
        float[] Train(bool release)
        {
            var ml = new MLContext(seed: 1);
            var raw = RealImages.Train(ml, 64);
            var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(raw).Transform(raw);
            var options = new StudentOptions { Architecture = "resnet8", Epochs = 1, BatchSize = 16, Seed = 3, ReleaseMemoryEachStep = release };
            using var model = ml.Distillation.Baseline(options).Fit(data);
            return model.Transform(data).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        }

        CollectionAssert.AreEqual(Train(release: false), Train(release: true), "trimming the heap changes memory, not numbers");
    }
}
