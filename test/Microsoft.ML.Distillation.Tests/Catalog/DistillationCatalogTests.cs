// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Catalog;

[TestClass]
public sealed class DistillationCatalogTests
{
    [TestMethod]
    public void Distillation_IsOneCatalogPerContext()
    {
        var a = new MLContext();
        var b = new MLContext();

        Assert.AreSame(a.Distillation, a.Distillation);
        Assert.AreNotSame(a.Distillation, b.Distillation);
        Assert.AreSame(a.Distillation, a.GetDistillationCatalog());
    }

    [TestMethod]
    public void Distill_WithOptions_ChoosesTheMethodByTheOptionsType()
    {
        var teacher = SharedTeacher.Teacher;
        var catalog = SharedTeacher.Ml.Distillation;

        Assert.IsInstanceOfType<HsakdEstimator>(catalog.Distill(teacher, new HsakdOptions { Architecture = "resnet8" }));
        Assert.IsInstanceOfType<SskdEstimator>(catalog.Distill(teacher, new SskdOptions()));
        Assert.IsInstanceOfType<DkdEstimator>(catalog.Distill(teacher, new DkdOptions()));
        Assert.IsInstanceOfType<KdEstimator>(catalog.Distill(teacher, new KdOptions()));
        Assert.IsInstanceOfType<BaselineEstimator>(catalog.Distill(teacher, new StudentOptions()));
        var e = Assert.ThrowsExactly<ArgumentException>(() => catalog.Distill(teacher, new HsakdOptions { Architecture = "vgg8" }));
        StringAssert.Contains(e.Message, "pairs auxiliary branches", "the method's own checks run as with mlContext.Distillation.Hsakd");
    }

    [TestMethod]
    [TestCategory(TestCategories.CpuSensitive)]
    public void Distill_WithKdOptions_TrainsTheSameStudentAsKd()
    {
        var ml = SharedTeacher.Ml;
        var data = SharedTeacher.Pipeline.First().Transform(RealImages.Train(ml, 64));
        KdOptions Options() => new() { Architecture = "resnet8", Epochs = 1, BatchSize = 32, Seed = 4 };

        using var viaKd = ml.Distillation.Kd(SharedTeacher.Teacher, Options()).Fit(data);
        using var viaDistill = ml.Distillation.Distill(SharedTeacher.Teacher, Options()).Fit(data);

        var expected = viaKd.Model.Network.state_dict();
        foreach (var (name, tensor) in viaDistill.Model.Network.state_dict())
            Assert.IsTrue(TensorAssert.Same(expected[name], tensor), $"'{name}' differs");
    }

    [TestMethod]
    public void SchemaShapeColumn_InternalConstructor_IsStillReachable()
    {
        // Guard: ML.NET keeps this constructor internal; if a new version changes it, this fails first.
        var column = SchemaShapeColumns.Create("Score", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);

        Assert.AreEqual("Score", column.Name);
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, column.Kind);
        Assert.AreEqual(NumberDataViewType.Single, column.ItemType);
        Assert.IsFalse(column.IsKey);
    }

    [TestMethod]
    public void FlatOverload_CarriesItsArgumentsIntoOptions()
    {
        var ml = new MLContext();

        var shape = ml.Distillation.Teacher(labelColumnName: "Y", imageColumnName: "Pixels", architecture: "wrn16_2", epochs: 3)
            .GetOutputSchema(Microsoft.ML.Distillation.Tests.Data.DataTestHelpers.ShapeOf(ml.Data.LoadFromEnumerable(new[] { new Row() }).Schema));

        Assert.IsNotNull(TestUtilities.TensorAssert.Find(shape, "Score"));
        Assert.IsNotNull(TestUtilities.TensorAssert.Find(shape, "PredictedLabel"));
    }

    private sealed class Row
    {
        [VectorType(1, 4, 4)]
        public byte[] Pixels { get; set; } = new byte[16];

        [KeyType(2)]
        public uint Y { get; set; }
    }
}
