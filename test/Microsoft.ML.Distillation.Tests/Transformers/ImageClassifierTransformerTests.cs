// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Data;
using Microsoft.ML.Distillation.Samples;
using Microsoft.ML.Distillation.Tests.TestUtilities;

namespace Microsoft.ML.Distillation.Tests.Transformers;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
[DoNotParallelize]
public sealed class ImageClassifierTransformerTests
{
    private sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();

        public uint PredictedLabel { get; set; }
    }

    [TestMethod]
    public void OutputSchema_HasScoreAndPredictedLabel_WithMulticlassAnnotations()
    {
        var ml = SharedTeacher.Ml;
        var scored = SharedTeacher.Pipeline.Transform(RealImages.Test(ml, 4));

        var score = scored.Schema["Score"];
        var predicted = scored.Schema["PredictedLabel"];
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 10), score.Type);
        Assert.AreEqual(new KeyDataViewType(typeof(uint), 10), predicted.Type);

        ReadOnlyMemory<char> kind = default;
        score.Annotations.GetValue("ScoreColumnKind", ref kind);
        Assert.AreEqual("MulticlassClassification", kind.ToString());
        VBuffer<ReadOnlyMemory<char>> names = default;
        predicted.Annotations.GetValue("KeyValues", ref names);
        CollectionAssert.AreEqual(
            ml.Data.CreateEnumerable<FashionMnistImage>(SharedTeacher.Train, false).Select(r => r.Label).Distinct().ToArray(),
            names.DenseValues().Select(v => v.ToString()).ToArray(),
            "PredictedLabel carries the label's key names, in key order");
    }

    [TestMethod]
    public void EstimatorOutputSchema_MatchesTransformerSchema()
    {
        var ml = SharedTeacher.Ml;
        var estimator = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Distillation.Teacher(architecture: "resnet8", epochs: 1));

        var shape = estimator.GetOutputSchema(Microsoft.ML.Distillation.Tests.Data.DataTestHelpers.ShapeOf(SharedTeacher.Train.Schema));
        var schema = SharedTeacher.Pipeline.Transform(SharedTeacher.Train).Schema;

        var score = TensorAssert.Find(shape, "Score")!.Value;
        Assert.AreEqual(SchemaShape.Column.VectorKind.Vector, score.Kind);
        Assert.AreEqual(NumberDataViewType.Single, score.ItemType);
        var predicted = TensorAssert.Find(shape, "PredictedLabel")!.Value;
        Assert.IsTrue(predicted.IsKey);
        foreach (var column in schema.Where(c => !c.IsHidden))
            Assert.IsNotNull(TensorAssert.Find(shape, column.Name), $"'{column.Name}' is announced by GetOutputSchema");
        Assert.IsNotNull(TensorAssert.Find(score.Annotations, "SlotNames"));
        Assert.IsNotNull(TensorAssert.Find(predicted.Annotations, "KeyValues"));
    }

    [TestMethod]
    public void BatchedScoring_EqualsRowByRow_AndPredictionEngine()
    {
        var ml = SharedTeacher.Ml;
        var test = RealImages.Test(ml, 70);
        var teacher = SharedTeacher.Teacher;
        var keyed = SharedTeacher.Pipeline.First().Transform(test);

        teacher.ScoringBatchSize = 64;
        var batched = teacher.Transform(keyed).GetColumn<float[]>("Score").ToList();
        teacher.ScoringBatchSize = 1;
        var single = teacher.Transform(keyed).GetColumn<float[]>("Score").ToList();
        teacher.ScoringBatchSize = 64;
        var engine = ml.Model.CreatePredictionEngine<FashionMnistImage, Prediction>(SharedTeacher.Pipeline);
        var rows = ml.Data.CreateEnumerable<FashionMnistImage>(test, false).ToList();

        Assert.HasCount(70, batched);
        for (int i = 0; i < rows.Count; i++)
        {
            var p = engine.Predict(rows[i]);
            for (int k = 0; k < 10; k++)
            {
                Assert.AreEqual(single[i][k], batched[i][k], 1e-5, $"row {i} class {k}: batch of 64 vs batch of 1");
                Assert.AreEqual(single[i][k], p.Score[k], 1e-5, $"row {i} class {k}: PredictionEngine");
            }
            Assert.AreEqual((uint)(Array.IndexOf(p.Score, p.Score.Max()) + 1), p.PredictedLabel);
        }
    }

    [TestMethod]
    public void ScoringSkippedAndFilteredRows_StaysAligned()
    {
        var ml = SharedTeacher.Ml;
        var rows = FashionMnist.Read(RealImages.Folder, "t10k", 100)
            .Select((r, i) => new MarkedImage { Image = r.Image, Label = r.Label, EveryThird = i % 3 == 0 ? 0f : 1f }).ToList();
        var keyed = SharedTeacher.Pipeline.First().Transform(ml.Data.LoadFromEnumerable(rows));
        var scored = SharedTeacher.Teacher.Transform(keyed);
        var all = scored.GetColumn<float[]>("Score").ToList();

        var window = ml.Data.TakeRows(ml.Data.SkipRows(scored, 30), 50).GetColumn<float[]>("Score").ToList();
        var filtered = ml.Data.FilterRowsByColumn(scored, "EveryThird", lowerBound: 0, upperBound: 0.5).GetColumn<float[]>("Score").ToList();

        Assert.HasCount(50, window);
        for (int i = 0; i < 50; i++)
            CollectionAssert.AreEqual(all[30 + i], window[i], $"row {30 + i} after skipping 30");
        Assert.HasCount(34, filtered);
        for (int j = 0; j < filtered.Count; j++)
            CollectionAssert.AreEqual(all[3 * j], filtered[j], $"filtered row {j} is input row {3 * j}");
    }

    private sealed class MarkedImage
    {
        [VectorType(1, 28, 28)]
        public byte[] Image { get; set; } = Array.Empty<byte>();

        public string Label { get; set; } = "";

        public float EveryThird { get; set; }
    }

    [TestMethod]
    public void SaveAndLoad_GiveIdenticalPredictions()
    {
        var ml = SharedTeacher.Ml;
        var keyed = SharedTeacher.Pipeline.First().Transform(RealImages.Test(ml, 40));
        string path = Path.Combine(Path.GetTempPath(), $"teacher-{Guid.NewGuid():N}.zip");
        try
        {
            SharedTeacher.Teacher.Save(path);
            using var loaded = ml.Distillation.LoadModel(path);

            var before = SharedTeacher.Teacher.Transform(keyed);
            var after = loaded.Transform(keyed);
            var s1 = before.GetColumn<float[]>("Score").ToList();
            var s2 = after.GetColumn<float[]>("Score").ToList();
            var p1 = before.GetColumn<uint>("PredictedLabel").ToList();
            var p2 = after.GetColumn<uint>("PredictedLabel").ToList();

            for (int i = 0; i < s1.Count; i++)
                CollectionAssert.AreEqual(s1[i], s2[i], $"row {i}");
            CollectionAssert.AreEqual(p1, p2);
            CollectionAssert.AreEqual(SharedTeacher.Teacher.ClassNames.ToArray(), loaded.ClassNames.ToArray());
            Assert.AreEqual(SharedTeacher.Teacher.Architecture, loaded.Architecture);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void MLNetModelSave_ExplainsTheSupportedWay()
    {
        var ml = SharedTeacher.Ml;
        using var stream = new MemoryStream();

        var e = Assert.ThrowsExactly<NotSupportedException>(() => ml.Model.Save(SharedTeacher.Teacher, SharedTeacher.Train.Schema, stream));

        StringAssert.Contains(e.Message, "LoadModel");
    }

    [TestMethod]
    public void Transform_WithoutTheImageColumn_NamesIt()
    {
        var ml = SharedTeacher.Ml;
        var other = ml.Data.LoadFromEnumerable(new[] { new { Picture = new float[] { 1f } } });

        var e = Assert.Throws<ArgumentException>(() => SharedTeacher.Teacher.Transform(other));

        StringAssert.Contains(e.Message, "Image");
    }

    [TestMethod]
    public void InferenceParameterCount_IsTheBackbonesOnly()
    {
        var network = SharedTeacher.Teacher.Model.Network;

        long backbone = network.Backbone.parameters().Sum(p => p.numel());
        long all = network.parameters().Sum(p => p.numel());

        Assert.AreEqual(backbone, SharedTeacher.Teacher.InferenceParameterCount);
        Assert.IsLessThan(all, backbone);
    }
}
