// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>How the peers of an online distillation (<c>mlContext.Distillation.Online</c>) teach each other.</summary>
public enum OnlineMethod
{
    /// <summary>
    /// HSAKD's online variant (Yang et al., TNNLS 2022, "HSSAKD"): every peer has auxiliary branches on its stages and learns the task,
    /// the joint (class x rotation) task and every other peer's softened main-head and branch distributions. The networks see every
    /// image at four rotations (square images needed); peers need the same number of auxiliary branches.
    /// </summary>
    Hsakd = 0,

    /// <summary>
    /// Mutual contrastive learning (Yang et al., AAAI 2022), in-batch: every peer gets an embedding head, and contrastive terms within
    /// and across peers (hard and soft) plus each peer's cross-entropy. The networks see the original images; any architectures mix.
    /// </summary>
    Mcl = 1,

    /// <summary>
    /// FFL (Kim et al., ICPR 2020): a fusion module classifies from the maps the peers' heads pool; the peers learn from the fused
    /// classifier and it from the peers' ensemble. <see cref="OnlineOptions.MfefBlocks"/> adds MFEF's multi-scale and attention blocks
    /// to the fusion path (a reconstruction from the MFEF abstract). The peers' last maps need the same height and width.
    /// </summary>
    Ffl = 2,
}
