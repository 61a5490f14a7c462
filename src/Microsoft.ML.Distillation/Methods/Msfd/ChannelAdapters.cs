// Licensed under the MIT license. See LICENSE in the repository root.

using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Methods.Msfd;

/// <summary>
/// One 1x1 convolution with batch norm per stage pair, from the student's channels to the teacher's; identity where they agree.
/// The paper calls MSFD parameter-free, which holds for its equal-width pairs; how it treats unequal widths is not known (our choice).
/// Trained with the student, saved in checkpoints, not part of the fitted model.
/// </summary>
internal sealed class ChannelAdapters : nn.Module
{
    private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, Tensor>> _adapters = new();
    private readonly bool[] _identity;

    public ChannelAdapters(IReadOnlyList<(long Student, long Teacher)> channels) : base(nameof(ChannelAdapters))
    {
        _identity = channels.Select(c => c.Student == c.Teacher).ToArray();
        foreach (var (student, teacher) in channels)
            _adapters.Add(student == teacher ? nn.Identity() : nn.Sequential(nn.Conv2d(student, teacher, 1, bias: false), nn.BatchNorm2d(teacher)));
        RegisterComponents();
    }

    /// <summary>True when every pair has the same width (nothing to learn).</summary>
    public bool IsIdentity => _identity.All(x => x);

    public Tensor Apply(int pair, Tensor studentMap) => _identity[pair] ? studentMap : _adapters[pair].call(studentMap);
}
