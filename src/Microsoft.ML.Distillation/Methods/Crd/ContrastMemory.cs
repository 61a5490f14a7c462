// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Crd;

/// <summary>
/// What CRD owns and trains or keeps (distillers.md §3): the student and teacher embedding heads (linear to the contrast width, then
/// L2-normalised; the teacher's head trains although the teacher does not), the two memory banks of N rows (the student's and the
/// teacher's embeddings of every training row, initialised uniformly in ±1/sqrt(width/3)), and the two normalisation constants Z
/// (−1 until set on the first batch). All of it is saved in checkpoints; none of it is part of the fitted student.
/// </summary>
internal sealed class ContrastMemory : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> _studentHead;
    private readonly nn.Module<Tensor, Tensor> _teacherHead;

    public ContrastMemory(long studentWidth, long teacherWidth, long rows, int width) : base(nameof(ContrastMemory))
    {
        _studentHead = nn.Linear(studentWidth, width);
        _teacherHead = nn.Linear(teacherWidth, width);
        double bound = 1.0 / Math.Sqrt(width / 3.0);
        register_buffer("student_bank", rand(rows, width) * (2 * bound) - bound);
        register_buffer("teacher_bank", rand(rows, width) * (2 * bound) - bound);
        register_buffer("normalizers", full(2, -1.0));
        RegisterComponents();
    }

    /// <summary>M_s: the student's remembered embeddings, [N, width].</summary>
    public Tensor StudentBank => get_buffer("student_bank")!;

    /// <summary>M_t: the teacher's remembered embeddings, [N, width].</summary>
    public Tensor TeacherBank => get_buffer("teacher_bank")!;

    /// <summary>[Z of the student anchor, Z of the teacher anchor]; −1 while unset.</summary>
    public Tensor Normalizers => get_buffer("normalizers")!;

    /// <summary>e_s = L2norm(W_s h_s + b_s).</summary>
    public Tensor EmbedStudent(Tensor embedding) => nn.functional.normalize(_studentHead.call(embedding), p: 2, dim: 1);

    /// <summary>e_t = L2norm(W_t h_t + b_t).</summary>
    public Tensor EmbedTeacher(Tensor embedding) => nn.functional.normalize(_teacherHead.call(embedding), p: 2, dim: 1);

    /// <summary>Momentum update of the rows: <c>M[i] ← L2norm(m · M[i] + (1 − m) · e_i)</c>, for one bank.</summary>
    public static void Update(Tensor bank, Tensor rows, Tensor embeddings, double momentum)
    {
        using var scope = NewDisposeScope();
        var mixed = bank.index_select(0, rows) * momentum + embeddings * (1 - momentum);
        bank.index_copy_(0, rows, nn.functional.normalize(mixed, p: 2, dim: 1, eps: 0));
    }
}
