// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Methods.Mgd;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.Tests.TestUtilities;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Tests.Methods.Mgd;

[TestClass]
[TestCategory(TestCategories.CpuSensitive)]
public sealed class MgdLossTests
{
    // Two samples, three classes, embeddings of size 2, a narrow code of 2 (T = 2) and a wide one of 3 (T = 8). Every weight of the
    // modules is zero and each output layer's bias is pinned, so every row's codes and decoded logits are those biases:
    // teacher c64 = [0.5, -1], d64 = [1, 0, -1], c256 = [1, 2, 0], d256 = [0, 1, 3]; student c64 = [0, 1], c256 = [2, 0, -1].
    // Expected values computed by hand (Python floats, math module only) from the definitions in MgdLoss and MgdTeacherBranchLoss.
    private static readonly float[,] StudentLogits = { { 1f, 2f, 0.5f }, { 0.2f, -1f, 3f } };
    private static readonly float[,] TeacherLogits = { { 2f, 0.5f, 1f }, { 0f, 0.3f, 2.5f } };
    private static readonly long[] Labels = [0, 2];
    private static readonly Granularities Sizes = new(2, 2, 3, 8);

    private static TeacherGranularityBranches TeacherBranches()
        => Pin(new TeacherGranularityBranches(2, 3, Sizes), new()
        {
            ["narrow_encoder.2.bias"] = [0.5f, -1f],
            ["narrow_decoder.2.bias"] = [1f, 0f, -1f],
            ["wide_encoder.2.bias"] = [1f, 2f, 0f],
            ["wide_decoder.2.bias"] = [0f, 1f, 3f],
        });

    private static StudentGranularityEncoders StudentEncoders()
        => Pin(new StudentGranularityEncoders(2, Sizes), new()
        {
            ["narrow_encoder.2.bias"] = [0f, 1f],
            ["wide_encoder.2.bias"] = [2f, 0f, -1f],
        });

    private static T Pin<T>(T module, Dictionary<string, float[]> biases) where T : nn.Module
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            parameter.zero_();
            if (biases.TryGetValue(name, out var values))
            {
                using var source = tensor(values);
                parameter.copy_(source);
            }
        }

        Assert.AreEqual(biases.Count, module.named_parameters().Count(p => biases.ContainsKey(p.name)), "every pinned name exists");
        return module;
    }

    private static LossBatch Batch(Tensor studentEmbedding)
    {
        var labels = tensor(Labels);
        return new LossBatch(
            new NetworkOutput(tensor(StudentLogits), studentEmbedding, [], []),
            new NetworkOutput(tensor(TeacherLogits), ones(2, 2), [], []),
            labels, labels, rotationCount: 1);
    }

    private static Dictionary<string, double> Terms(LossResult result) => result.Terms.ToDictionary(t => t.Key, t => (double)t.Value.item<float>());

    [TestMethod]
    public void Compute_TheGranularityWiseVariant_EqualsTheHandComputedTerms()
    {
        using var scope = NewDisposeScope();
        var settings = new MgdLossSettings { GranularityWeight = 1.5, StableExcitation = false, Granularities = Sizes };
        using var loss = new MgdLoss(settings, StudentEncoders(), TeacherBranches());

        var result = loss.Compute(Batch(ones(2, 2)));
        var terms = Terms(result);

        CollectionAssert.AreEqual(new[] { "ce", "kd", "narrow", "wide" }, terms.Keys.ToArray());
        Assert.AreEqual(0.15405199617579216, terms["ce"], 1e-6, "0.2 · CE");
        Assert.AreEqual(0.34240962674924985, terms["kd"], 1e-6, "0.8 · 4² · KL toward the teacher's logits");
        Assert.AreEqual(1.117076112206687, terms["narrow"], 1e-6, "1.5 · 2² · KL of the 2-wide codes at T = 2");
        Assert.AreEqual(1.2373096443702174, terms["wide"], 1e-5, "1.5 · 8² · KL of the 3-wide codes at T = 8");
        Assert.AreEqual(terms.Values.Sum(), result.Total.item<float>(), 1e-5);
    }

    [TestMethod]
    public void Compute_StableExcitation_ChangesOnlyTheLogitTerm_ToTheMeanOfTheThreeTeacherOutputs()
    {
        using var scope = NewDisposeScope();
        var settings = new MgdLossSettings { GranularityWeight = 1.5, StableExcitation = true, Granularities = Sizes };
        using var loss = new MgdLoss(settings, StudentEncoders(), TeacherBranches());

        var terms = Terms(loss.Compute(Batch(ones(2, 2))));

        Assert.AreEqual(0.4412849120820159, terms["kd"], 1e-6, "target (z_t + d64 + d256) / 3");
        Assert.AreEqual(0.15405199617579216, terms["ce"], 1e-6);
        Assert.AreEqual(1.117076112206687, terms["narrow"], 1e-6);
        Assert.AreEqual(1.2373096443702174, terms["wide"], 1e-5);
    }

    [TestMethod]
    public void Compute_TrainsTheStudentsEncodersAndEmbedding_NeverTheTeachersBranches()
    {
        using var scope = NewDisposeScope();
        var encoders = StudentEncoders();
        var branches = TeacherBranches();
        using var loss = new MgdLoss(new MgdLossSettings { Granularities = Sizes }, encoders, branches);
        var embedding = ones(2, 2).requires_grad_(true);

        loss.Compute(Batch(embedding)).Total.backward();

        Assert.IsTrue(branches.parameters().All(p => !p.requires_grad), "the teacher's branches are frozen");
        Assert.AreSame(encoders, loss.TrainableModule);
        var narrowBias = encoders.named_parameters().Single(p => p.name == "narrow_encoder.2.bias").parameter;
        Assert.IsGreaterThan(0.0, narrowBias.grad!.abs().sum().item<float>(), "the student's narrow encoder learns");
        Assert.IsNotNull(embedding.grad, "the student's embedding receives the code-matching gradient");
    }

    [TestMethod]
    public void TeacherBranchLoss_EqualsTheHandComputedTerms_AndTrainsOnlyTheBranches()
    {
        using var scope = NewDisposeScope();
        var branches = TeacherBranches();
        var loss = new MgdTeacherBranchLoss(branches, Sizes);
        var labels = tensor(Labels);
        var teacherEmbedding = ones(2, 2).requires_grad_(true);
        var batch = new LossBatch(new NetworkOutput(tensor(TeacherLogits), teacherEmbedding, [], []), null, labels, labels, rotationCount: 1);

        var result = loss.Compute(batch);
        var terms = Terms(result);
        result.Total.backward();

        Assert.AreEqual(2.425144032743126, terms["narrow"], 1e-6, "CE(d64, y) + 2² · KL(z_t ‖ d64) at T = 2");
        Assert.AreEqual(2.388371328345245, terms["wide"], 1e-5, "CE(d256, y) + 8² · KL(z_t ‖ d256) at T = 8");
        Assert.IsNull(teacherEmbedding.grad, "the teacher's backbone gets no gradient");
        Assert.IsTrue(branches.parameters().All(p => p.grad is not null), "every branch parameter learns");
        Assert.IsFalse(loss.RequiresTeacher);
        Assert.IsFalse(loss.UsesRotations);
    }
}
