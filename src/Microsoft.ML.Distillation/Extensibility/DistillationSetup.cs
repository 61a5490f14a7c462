// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>What a <see cref="DistillationMethod"/> knows when it creates its module: the data's and the networks' sizes.</summary>
/// <param name="RowCount">Rows of the training data (a memory bank needs one slot per row).</param>
/// <param name="ClassCount">Classes K.</param>
/// <param name="StudentEmbeddingSize">Width of the student's pooled embedding.</param>
/// <param name="TeacherEmbeddingSize">Width of the teacher's pooled embedding.</param>
public sealed record DistillationSetup(int RowCount, int ClassCount, int StudentEmbeddingSize, int TeacherEmbeddingSize);
