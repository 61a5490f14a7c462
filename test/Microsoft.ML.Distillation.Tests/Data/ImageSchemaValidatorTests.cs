// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Transforms.Image;
using static Microsoft.ML.Distillation.Tests.Data.DataTestHelpers;

namespace Microsoft.ML.Distillation.Tests.Data;

[TestClass]
public sealed class ImageSchemaValidatorTests
{
    private static IDataView ChwData() => WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
    {
        new ChwSingleRow { Image = new float[12], Label = "cat" },
        new ChwSingleRow { Image = new float[12], Label = "dog" },
    }));

    [TestMethod]
    public void MissingImageColumn_NamesColumnAndRole()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(ChwData().Schema, "Pixels"));
        AssertMentions(e, "Image column 'Pixels'", "not found", "'Image'", "'Label'");
        Assert.AreEqual("data", e.ParamName);
    }

    [TestMethod]
    public void MissingLabelColumn_NamesColumnAndRole()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateLabelColumn(ChwData().Schema, "Class"));
        AssertMentions(e, "Label column 'Class'", "not found");
    }

    [TestMethod]
    public void TextImageColumn_NamesActualAndAcceptedTypes()
    {
        var data = Context.Data.LoadFromEnumerable(new[] { new TextImageRow { Image = "a.png", Label = "cat" } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image"));
        AssertMentions(e, "Image column 'Image'", "String", "MLImage", "known-size vector of Single or Byte");
    }

    [TestMethod]
    public void VariableSizeVector_IsRejected()
    {
        var data = Context.Data.LoadFromEnumerable(new[] { new VariableSingleRow { Image = new float[12], Label = "cat" } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image", new ImageShape(3, 2, 2)));
        AssertMentions(e, "Image column 'Image'", "variable size", "known-size vector");
    }

    [TestMethod]
    public void FlatVectorWithoutHint_AsksForShapeOptions()
    {
        var data = Context.Data.LoadFromEnumerable(new[] { new FlatSingleRow { Image = new float[12], Label = "cat" } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image"));
        AssertMentions(e, "Image column 'Image'", "12 values", "ImageChannels", "ImageHeight", "ImageWidth", "[C, H, W]");
    }

    [TestMethod]
    public void FlatVectorWithHintOfWrongSize_GivesBothNumbers()
    {
        var data = Context.Data.LoadFromEnumerable(new[] { new FlatByteRow { Image = new byte[12], Label = "cat" } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image", new ImageShape(1, 3, 3)));
        AssertMentions(e, "Image column 'Image'", "12 values", "needs 9", "1x3x3");
    }

    [TestMethod]
    public void FlatVectorWithMatchingHint_TakesHintShape()
    {
        var data = Context.Data.LoadFromEnumerable(new[] { new FlatByteRow { Image = new byte[12], Label = "cat" } });
        ImageColumnInfo info = ImageSchemaValidator.ValidateImageColumn(data.Schema, "Image", new ImageShape(3, 1, 4));
        Assert.AreEqual(ImageColumnKind.ByteVector, info.Kind);
        Assert.AreEqual(new ImageShape(3, 1, 4), info.Shape);
        Assert.AreEqual(TorchSharp.torch.ScalarType.Byte, info.ElementType);
    }

    [TestMethod]
    public void ChwVector_ShapeComesFromDimensions_AndHintMustAgree()
    {
        var schema = ChwData().Schema;
        ImageColumnInfo info = ImageSchemaValidator.ValidateImageColumn(schema, "Image");
        Assert.AreEqual(ImageColumnKind.SingleVector, info.Kind);
        Assert.AreEqual(new ImageShape(3, 2, 2), info.Shape);
        Assert.AreEqual(TorchSharp.torch.ScalarType.Float32, info.ElementType);

        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(schema, "Image", new ImageShape(1, 2, 6)));
        AssertMentions(e, "Image column 'Image'", "[3, 2, 2]", "1x2x6");
    }

    [TestMethod]
    public void InterleavedHwcVector_IsRejected()
    {
        var schema = new DataViewSchema.Builder();
        schema.AddColumn("Image", new VectorDataViewType(NumberDataViewType.Single, 32, 32, 3));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(schema.ToSchema(), "Image"));
        AssertMentions(e, "Image column 'Image'", "[32, 32, 3]", "interleavePixelColors: false");
    }

    [TestMethod]
    public void ImageColumnOfKnownSize_IsThreeChannels_AndHintMustAgree()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Image", new ImageDataViewType(32, 24));
        var schema = builder.ToSchema();
        Assert.AreEqual(new ImageShape(3, 32, 24), ImageSchemaValidator.ValidateImageColumn(schema, "Image").Shape);

        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(schema, "Image", new ImageShape(3, 32, 32), shapeSource: "the trained model"));
        AssertMentions(e, "Image column 'Image'", "32x24", "the trained model", "3x32x32");
    }

    [TestMethod]
    public void ImageColumnOfUnknownSize_HasNoShapeUnlessHinted()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Image", new ImageDataViewType());
        var schema = builder.ToSchema();
        Assert.IsNull(ImageSchemaValidator.ValidateImageColumn(schema, "Image").Shape);
        Assert.AreEqual(new ImageShape(3, 8, 8), ImageSchemaValidator.ValidateImageColumn(schema, "Image", new ImageShape(3, 8, 8)).Shape);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateImageColumn(schema, "Image", new ImageShape(1, 8, 8)));
        AssertMentions(e, "Image column 'Image'", "3 channels");
    }

    [TestMethod]
    public void NonKeyLabel_SuggestsMapValueToKey()
    {
        var data = Context.Data.LoadFromEnumerable(new[] { new ChwSingleRow { Image = new float[12], Label = "cat" } });
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateLabelColumn(data.Schema, "Label"));
        AssertMentions(e, "Label column 'Label'", "String", "key type", "MapValueToKey");
    }

    [TestMethod]
    public void KeyWithOneValue_IsFewerThanTwoClasses()
    {
        var data = WithKeyLabel(Context.Data.LoadFromEnumerable(new[]
        {
            new ChwSingleRow { Image = new float[12], Label = "cat" },
            new ChwSingleRow { Image = new float[12], Label = "cat" },
        }));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateLabelColumn(data.Schema, "Label"));
        AssertMentions(e, "Label column 'Label'", "fewer than 2 classes", "key count 1");
    }

    [TestMethod]
    public void KeyLabel_GivesClassCountAndNamesFromKeyValues()
    {
        LabelColumnInfo info = ImageSchemaValidator.ValidateLabelColumn(ChwData().Schema, "Label");
        Assert.AreEqual(2, info.ClassCount);
        CollectionAssert.AreEqual(new[] { "cat", "dog" }, info.ClassNames);
    }

    [TestMethod]
    public void KeyLabelWithoutKeyValues_GetsNumberNames()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", new KeyDataViewType(typeof(uint), 3));
        LabelColumnInfo info = ImageSchemaValidator.ValidateLabelColumn(builder.ToSchema(), "Label");
        CollectionAssert.AreEqual(new[] { "0", "1", "2" }, info.ClassNames);
    }

    [TestMethod]
    public void KeyOfOtherRawType_IsRejected()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", new KeyDataViewType(typeof(ushort), 3));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.ValidateLabelColumn(builder.ToSchema(), "Label"));
        AssertMentions(e, "Label column 'Label'", "UInt16", "key of UInt32");
    }

    [TestMethod]
    public void SchemaShape_AcceptsValidColumns_IncludingEstimatorOutput()
    {
        IDataView raw = Context.Data.LoadFromEnumerable(new[]
        {
            new ChwSingleRow { Image = new float[12], Label = "cat" },
            new ChwSingleRow { Image = new float[12], Label = "dog" },
        });
        SchemaShape promised = Context.Transforms.Conversion.MapValueToKey("Label").GetOutputSchema(ShapeOf(raw.Schema));
        ImageSchemaValidator.CheckImageColumn(promised, "Image");
        ImageSchemaValidator.CheckLabelColumn(promised, "Label");

        SchemaShape actual = ShapeOf(ChwData().Schema);
        ImageSchemaValidator.CheckImageColumn(actual, "Image");
        ImageSchemaValidator.CheckLabelColumn(actual, "Label");
    }

    [TestMethod]
    public void SchemaShape_ReportsTheSameProblems()
    {
        IDataView raw = Context.Data.LoadFromEnumerable(new[] { new VariableSingleRow { Image = new float[12], Label = "cat" } });
        SchemaShape shape = ShapeOf(raw.Schema);

        var missing = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.CheckImageColumn(shape, "Pixels"));
        AssertMentions(missing, "Image column 'Pixels'", "not found");
        Assert.AreEqual("inputSchema", missing.ParamName);

        var variable = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.CheckImageColumn(shape, "Image"));
        AssertMentions(variable, "Image column 'Image'", "variable size");

        var wrongType = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.CheckImageColumn(shape, "Label"));
        AssertMentions(wrongType, "Image column 'Label'", "String");

        var notKey = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.CheckLabelColumn(shape, "Label"));
        AssertMentions(notKey, "Label column 'Label'", "MapValueToKey");

        var missingLabel = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.CheckLabelColumn(shape, "Class"));
        AssertMentions(missingLabel, "Label column 'Class'", "not found");
    }

    [TestMethod]
    public void SchemaShape_ChecksImageSizeAgainstHint()
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Image", new ImageDataViewType(32, 32));
        SchemaShape shape = ShapeOf(builder.ToSchema());
        ImageSchemaValidator.CheckImageColumn(shape, "Image", new ImageShape(3, 32, 32));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSchemaValidator.CheckImageColumn(shape, "Image", new ImageShape(3, 28, 28)));
        AssertMentions(e, "Image column 'Image'", "32x32", "3x28x28");
    }
}
