// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>
/// Options every Microsoft.ML.Distillation estimator shares: columns, network, optimisation, data augmentation, device and progress.
/// Defaults follow the HSAKD paper's CIFAR-100 recipe (SGD, momentum 0.9, Nesterov, weight decay 5e-4, batch 64, 240 epochs,
/// learning rate × 0.1 at 62.5%, 75% and 87.5% of the epochs).
/// </summary>
public abstract class TrainingOptions
{
    /// <summary>The defaults, shared by the options and the catalog's flat overloads.</summary>
    internal static class Defaults
    {
        public const string LabelColumnName = "Label";
        public const string ImageColumnName = "Image";
        public const string ScoreColumnName = "Score";
        public const string PredictedLabelColumnName = "PredictedLabel";
        public const int Epochs = 240;
        public const int BatchSize = 64;
        public const double LearningRate = 0.05;
        public const double LearningRateDecay = 0.1;
        public const double Momentum = 0.9;
        public const bool Nesterov = true;
        public const double WeightDecay = 5e-4;
        public const int RandomCropPadding = 4;
        public const bool HorizontalFlip = true;
    }

    /// <summary>Label column: a key type (use <c>MapValueToKey</c> on raw labels). Default "Label".</summary>
    public string LabelColumnName = Defaults.LabelColumnName;

    /// <summary>
    /// Image column: an <c>MLImage</c> column (<c>LoadImages</c>, <c>ResizeImages</c>) or a known-size <c>Vector&lt;Single&gt;</c> /
    /// <c>Vector&lt;Byte&gt;</c> of C x H x W pixels (planar). Default "Image".
    /// </summary>
    public string ImageColumnName = Defaults.ImageColumnName;

    /// <summary>Output column of class probabilities. Default "Score".</summary>
    public string ScoreColumnName = Defaults.ScoreColumnName;

    /// <summary>Output key column of the most probable class. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName = Defaults.PredictedLabelColumnName;

    /// <summary>
    /// Network name from the zoo: CIFAR ResNets resnet8/14/20/32/44/56/110, resnet8x4, resnet32x4 and resnet50 (bottleneck); wide ResNets
    /// wrn{d}_{k} with d = 6n+4 (wrn16_1, wrn16_2, wrn40_1, wrn40_2, ...); vgg8/11/13/16/19; mobilenetv2_half_s1 (HSAKD's stride-1 stem) and
    /// mobilenetv2_half (stride-2 stem); shufflenetv1, shufflenetv2; and torchvision's ImageNet layouts resnet18, resnet34,
    /// resnet50_imagenet and mobilenetv2_imagenet for photos (e.g. 224x224), which load torchvision's checkpoints.
    /// Input channels and class count come from the data. The README's Networks table lists their auxiliary-branch counts.
    /// </summary>
    public string Architecture = "";

    /// <summary>Training epochs. Default 240 (the paper's).</summary>
    public int Epochs = Defaults.Epochs;

    /// <summary>Original images per step; with the four rotations the networks see four times as many rows. Default 64.</summary>
    public int BatchSize = Defaults.BatchSize;

    /// <summary>Initial learning rate of SGD. Default 0.05.</summary>
    public double LearningRate = Defaults.LearningRate;

    /// <summary>
    /// 0-based epochs (at least 1) at which the learning rate is multiplied by <see cref="LearningRateDecay"/>. Default null: 62.5%,
    /// 75% and 87.5% of <see cref="Epochs"/> (150, 180, 210 of 240, as in the paper), rounded down; for short runs a milestone that
    /// rounds to 0 is dropped and milestones that round to the same epoch decay once (a 1-epoch run keeps its initial rate).
    /// </summary>
    public int[]? LearningRateMilestones;

    /// <summary>
    /// Epochs over which the learning rate rises linearly, step by step, from near 0 to its scheduled value (not DKD's WarmupEpochs, which ramps its loss weight). Default null: the method's
    /// own, which is none except for MixSKD (⌈Epochs · 5 / 205⌉, its code's 5 warm-up epochs of 205). 0 turns a warm-up off. Progress
    /// reports (<see cref="TrainingMetrics.LearningRate"/>) give the scheduled rate the warm-up climbs to.
    /// </summary>
    public int? LearningRateWarmupEpochs;

    /// <summary>Factor applied to the learning rate at each milestone. Default 0.1.</summary>
    public double LearningRateDecay = Defaults.LearningRateDecay;

    /// <summary>SGD momentum. Default 0.9.</summary>
    public double Momentum = Defaults.Momentum;

    /// <summary>Nesterov momentum. Default true.</summary>
    public bool Nesterov = Defaults.Nesterov;

    /// <summary>L2 weight decay on all parameters. Default 5e-4.</summary>
    public double WeightDecay = Defaults.WeightDecay;

    /// <summary>Seed for weight initialisation, shuffling and augmentation. Default null: drawn from the MLContext's random source, so <c>new MLContext(seed: n)</c> makes training repeatable.</summary>
    public int? Seed;

    /// <summary>Where to train. Default <see cref="ComputeDevice.Auto"/>.</summary>
    public ComputeDevice Device = ComputeDevice.Auto;

    /// <summary>Channels of a flat pixel-vector image column (not needed for MLImage or [C,H,W] vectors).</summary>
    public int? ImageChannels;

    /// <summary>Height of a flat pixel-vector image column.</summary>
    public int? ImageHeight;

    /// <summary>Width of a flat pixel-vector image column.</summary>
    public int? ImageWidth;

    /// <summary>Per-channel means in raw pixel units (0..255 for images). Default null: computed from the training data.</summary>
    public float[]? NormalizationMean;

    /// <summary>Per-channel standard deviations in raw pixel units. Default null: computed from the training data.</summary>
    public float[]? NormalizationStd;

    /// <summary>Zero padding for the random crop (each side); 0 turns random cropping off. Default 4.</summary>
    public int RandomCropPadding = Defaults.RandomCropPadding;

    /// <summary>Random horizontal flips with probability 0.5. Default true.</summary>
    public bool HorizontalFlip = Defaults.HorizontalFlip;

    /// <summary>Optional held-out data, scored after every epoch (accuracy in the progress report). Same columns as the training data.</summary>
    public IDataView? ValidationSet;

    /// <summary>
    /// Leave out the rows whose image cannot be read instead of stopping. Default false: such a row stops <c>Fit</c> before training
    /// with an <see cref="InvalidOperationException"/> naming the column, the 0-based row and the row's text columns (for
    /// <c>LoadImages</c>, the file). Unreadable means: the file is missing, empty or not an image; there is no image; or the file
    /// <c>LoadImages</c> read holds incomplete data (a PNG or JPEG cut short by an interrupted copy or download, which ML.NET decodes
    /// in part, black below the cut, without a word) or corrupt data. When true, each such row is left out and logged as a warning
    /// to <c>mlContext.Log</c> with its row and file, followed by the number left out. Applies to <see cref="ValidationSet"/> in the
    /// same way. The usual errors still apply when no rows, or rows of fewer than 2 classes, remain; images of another size and
    /// missing labels are never skipped.
    /// </summary>
    public bool SkipUnreadableImages;

    /// <summary>Called after every epoch with its metrics (also written to <c>mlContext.Log</c>).</summary>
    public Action<TrainingMetrics>? MetricsCallback;

    /// <summary>
    /// Threads libtorch uses on the CPU (process-wide, set when <c>Fit</c> starts). Default null: one per physical core the process
    /// may run on (SMT siblings count once; CPU affinity and container CPU limits are honoured), or libtorch's own default when the
    /// <c>OMP_NUM_THREADS</c> or <c>MKL_NUM_THREADS</c> environment variable is set. Idle threads sleep rather than spin
    /// (<c>OMP_WAIT_POLICY=PASSIVE</c>, set when this library loads on Linux and macOS unless <c>OMP_WAIT_POLICY</c>,
    /// <c>GOMP_SPINCOUNT</c> or <c>KMP_BLOCKTIME</c> is set), so a training shares the CPU well with other processes.
    /// </summary>
    public int? NumberOfThreads;

    /// <summary>
    /// Before every training step, hand the memory the previous step freed back to the operating system (glibc <c>malloc_trim</c>;
    /// Linux only, no effect elsewhere). Default false: a training keeps the memory its steps free for the next step (on Linux with
    /// glibc it sets malloc's mmap threshold to 32 MiB, its trim threshold to 1 GiB and its top pad to 64 MiB when the first CPU
    /// training starts, unless a <c>MALLOC_*_</c> variable or a <c>glibc.malloc</c> tunable is set) and hands it back once per
    /// epoch, after validation.
    /// Trimming before every step makes the next step fault its working set back in page by page: measured 2026-12-05 on a 2-core
    /// AMD EPYC (docs/benchmarks.md, two rounds each), a plain WRN-16-2 step ran at 95-97 images/s with it against 267-338 without,
    /// and the HSAKD WRN-40-2 → WRN-16-2 step at 11.3-12.9 against 15.1-18.0, for a peak resident memory of 1.63-1.67 against
    /// 1.74-1.78 GiB. Set true where memory is tighter than time.
    /// </summary>
    public bool ReleaseMemoryEachStep;

    /// <summary>
    /// On the CPU, train with channels-last (NHWC) memory strides for the images, the student's convolution weights and a private
    /// copy of the teacher: the same values in another order, which suits libtorch's oneDNN convolutions (measured on a 2-core
    /// build machine: HSAKD WRN-40-2 → WRN-16-2 step about 20 % faster, WRN-16-2 step about 15 %, MobileNetV2 about 50 %; see
    /// docs/benchmarks.md). Default false: a step's loss agrees with the NCHW path within 1e-5 and its gradients are about as close
    /// to float64 as NCHW's, but its results depend on the thread count far more: on a fixed-seed run (a wrn16_1 teacher's step,
    /// then three resnet8 HSAKD steps) 1 against 2 threads moved the losses by up to 2.7e-3 relative with channels-last and 3.4e-5
    /// without (measured 2026-12-04), a fault of libtorch 2.10's AVX-512 channels-last kernels with more than one thread (on a
    /// family-26 EPYC the same kernels are grossly wrong with 2 threads and exact with 1; held to AVX2 they are exact). Families
    /// measured slower in that layout (ShuffleNet V1) keep NCHW regardless; no effect on CUDA. Checkpoints are written in the standard
    /// layout either way, and the trained network is handed back in it. Before training, three small convolutions are computed in
    /// both layouts and in float64, once per process and thread count; where either layout is off (an AMD EPYC of family 26,
    /// 2026-12-05) training runs in NCHW with a warning.
    /// </summary>
    public bool ChannelsLast;

    /// <summary>
    /// Numeric precision of the training. Default <see cref="TrainingPrecision.Float32"/>.
    /// <see cref="TrainingPrecision.BFloat16Mixed"/> runs each step's forward and backward pass with bfloat16 convolutions and matrix
    /// products, keeping float32 weights, optimiser state, batch-norm statistics and losses; where bfloat16 is not fast (a CPU without
    /// AVX512-BF16 or AMX, or oneDNN restricted below them) it trains in float32 with a warning in the log. Opt-in: on an
    /// AVX512-BF16 host (2026-12-05) HSAKD runs were 1.6x and KD runs 1.27x faster, and test accuracy moved by −0.15 (HSAKD, three
    /// seeds, within noise) and −0.33 points (KD) against float32, with a wider spread between seeds (docs/benchmarks.md); a default
    /// that applies only on some CPUs would also make the same program train another model elsewhere. Not available for online peer groups. Teacher-side stages (SSKD's head, MGD's branches) train in float32.
    /// </summary>
    public TrainingPrecision Precision = TrainingPrecision.Float32;

    /// <summary>
    /// Stops training within one batch (and data reading within a few hundred rows); <c>Fit</c> then throws
    /// <see cref="OperationCanceledException"/>. Default: none.
    /// </summary>
    public CancellationToken CancellationToken;

    /// <summary>
    /// Folder for epoch checkpoints (network, optimiser state, epoch), written atomically at the end of every epoch.
    /// Default null: no checkpoints. Use one folder per training.
    /// </summary>
    public string? CheckpointDirectory;

    /// <summary>How many of the newest checkpoints to keep in <see cref="CheckpointDirectory"/>. Default 2.</summary>
    public int CheckpointsToKeep = 2;

    /// <summary>
    /// Continue from the newest complete checkpoint in <see cref="CheckpointDirectory"/> (same data, options and seed give the
    /// same model as an uninterrupted run on the CPU). Without a checkpoint there, training starts from scratch. Default false.
    /// </summary>
    public bool Resume;

    /// <summary>A shallow copy (sweeps change a copy, never the options the user gave).</summary>
    internal TrainingOptions ShallowCopy() => (TrainingOptions)MemberwiseClone();
}
