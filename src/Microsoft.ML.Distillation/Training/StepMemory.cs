// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Networks;

namespace Microsoft.ML.Distillation.Training;

/// <summary>
/// Releases tensor handles of a training step as soon as nothing reads them any more, so that libtorch can free their memory
/// when autograd is done with them, as PyTorch's reference counting would, instead of at the end of the step's dispose scope.
/// </summary>
internal static class StepMemory
{
    /// <summary>
    /// Once the loss has been computed, the autograd graph holds what backward needs: the teacher's outputs and the student's
    /// features, embedding and auxiliary logits are released (their storage lives on inside the graph where backward needs it,
    /// and is freed as backward passes). The student's main logits stay for the step's accuracy bookkeeping. Of a peer group, every
    /// peer's outputs are released but peer 0's logits (the student's own).
    /// </summary>
    public static void ReleaseAfterLoss(NetworkOutput student, NetworkOutput? teacher)
    {
        if (teacher is not null)
        {
            Release(teacher, keepLogits: false);
        }

        for (int p = 1; p < student.Peers.Count; p++)
        {
            Release(student.Peers[p], keepLogits: false);
        }

        Release(student, keepLogits: true);
    }

    private static void Release(NetworkOutput output, bool keepLogits)
    {
        if (!keepLogits)
        {
            output.Logits.Dispose();
        }

        output.Embedding.Dispose();
        foreach (var tensor in output.Features)
        {
            tensor.Dispose();
        }

        foreach (var tensor in output.AuxLogits)
        {
            tensor.Dispose();
        }

        foreach (var tensor in output.AuxMaps)
        {
            tensor.Dispose();
        }

        output.PooledMap?.Dispose();
    }
}
