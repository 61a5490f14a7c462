// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Estimators;

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
