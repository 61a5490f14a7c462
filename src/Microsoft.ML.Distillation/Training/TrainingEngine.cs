// Licensed under the MIT license. See LICENSE in the repository root.

using System.Diagnostics;
using Microsoft.ML.Distillation.Data;
using Microsoft.ML.Distillation.Distillers;
using Microsoft.ML.Distillation.Native;
using Microsoft.ML.Distillation.Networks;
using Microsoft.ML.Distillation.SelfSupervision;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Distillation.Training;

/// <summary>Which parameters of the trained network the optimiser updates.</summary>
internal enum TrainableParts
{
    /// <summary>Backbone, main head and auxiliary branches (joint training, students).</summary>
    All,

    /// <summary>Only the auxiliary branches; the backbone stays in eval mode with frozen BatchNorm statistics.</summary>
    AuxiliaryOnly,

    /// <summary>
    /// The auxiliary branches and the main head (<see cref="ClassifierNetwork.HeadTensorNames"/>); the rest of the backbone stays
    /// frozen in eval mode. A frozen pretrained backbone whose head was replaced for another class count.
    /// </summary>
    AuxiliaryAndHead,

    /// <summary>
    /// Nothing of the network: it runs frozen in eval mode (and is restored afterwards); only the loss's
    /// <see cref="IDistillationLoss.TrainableModule"/> trains (SSKD's teacher stage 2).
    /// </summary>
    None,
}

/// <summary>Everything the engine needs besides networks, loss and data; validated by the estimator.</summary>
internal sealed class TrainingSettings
{
    public required string Phase { get; init; }
    public required int Epochs { get; init; }
    public required int BatchSize { get; init; }
    public required LearningRateSchedule Schedule { get; init; }
    public required double Momentum { get; init; }
    public required bool Nesterov { get; init; }
    public required double WeightDecay { get; init; }
    public required int Seed { get; init; }
    public required Device Device { get; init; }
    public required int RandomCropPadding { get; init; }
    public required bool HorizontalFlip { get; init; }
    public TrainableParts Trainable { get; init; } = TrainableParts.All;

    /// <summary>
    /// Factors of the scheduled learning rate for some of the network's parameters, by state-dict name (e.g. 0.1 for the pretrained
    /// part when fine-tuning); parameters not listed train at the full rate. Null or empty: one rate for the whole network.
    /// </summary>
    public IReadOnlyDictionary<string, double>? ParameterLearningRateFactors { get; init; }
    public CancellationToken CancellationToken { get; init; }
    public CheckpointStore? Checkpoints { get; init; }
    public ResumePoint? ResumeFrom { get; init; }

    /// <summary>
    /// Run the teacher as a folded inference-only copy (<see cref="FrozenNetwork"/>) instead of the caller's network in eval mode.
    /// False by default: on the 2-core CPU build machine it measured no faster (teacher forward within 1%, batch norms are a small
    /// share of the time next to the convolutions) and the copy costs the teacher's parameters again (31 MiB for WRN-40-2);
    /// see docs/benchmarks.md. Tests run a step both ways.
    /// </summary>
    public bool FoldTeacherBatchNorms { get; init; }

    /// <summary>Run the teacher as a bfloat16 inference-only copy, its outputs cast back to float32 (<see cref="FrozenNetwork"/>).</summary>
    public bool TeacherInBFloat16 { get; init; }

    /// <summary>Train through a bfloat16 copy of the network with float32 master weights (<see cref="MixedPrecisionStudent"/>).</summary>
    public bool MixedPrecision { get; init; }

    /// <summary>
    /// Train with channels-last (NHWC) strides for the inputs, the student's convolution weights (put back to the standard layout
    /// when training ends, also on cancellation or failure) and a private copy of the teacher; <see cref="Training.ChannelsLast"/>.
    /// Networks with <see cref="ClassifierNetwork.PrefersChannelsLast"/> false keep NCHW.
    /// Same values, other kernel order: results agree with the NCHW path to float rounding (tests: 1e-5 relative on a fixed-seed
    /// training). Off unless the estimator turns it on.
    /// </summary>
    public bool ChannelsLast { get; init; }

    /// <summary>Trim the native heap before every step as well as after every epoch (<see cref="NativeHeap.Trim"/>); false by default, as the public option.</summary>
    public bool ReleaseMemoryEachStep { get; init; }

    /// <summary>Called after every step with its timings (benchmarks); null in normal use.</summary>
    public Action<StepTiming>? StepObserver { get; init; }
}

/// <summary>
/// Wall time of one training step: <see cref="DataSeconds"/> covers gathering, augmentation, normalisation and the rotation
/// expansion (everything before the first network runs); <see cref="LossSeconds"/> the loss's forward computation (softmaxes,
/// divergences, the finiteness check); <see cref="BookkeepingSeconds"/> the epoch statistics after the optimiser step;
/// <see cref="TotalSeconds"/> the whole step including the networks' forward and backward passes and the optimiser.
/// </summary>
internal readonly record struct StepTiming(int Epoch, int Batch, int Images, double DataSeconds, double TotalSeconds,
    double LossSeconds = 0, double BookkeepingSeconds = 0)
{
    /// <summary>Time outside the networks and the optimiser: data preparation, loss and bookkeeping.</summary>
    public double OutsideNetworksSeconds => DataSeconds + LossSeconds + BookkeepingSeconds;
}

/// <summary>A checkpoint to continue from: its file and its (already checked) manifest.</summary>
internal sealed record ResumePoint(string Path, CheckpointManifest Manifest);

/// <summary>
/// The one training loop. Teacher pretraining, plain students and every distiller run through it; what differs is the
/// <see cref="IDistillationLoss"/>, whether a frozen teacher is present, and which parameters train.
/// </summary>
/// <remarks>
/// Per step: gather a batch of raw pixels by a seeded permutation → random crop + flip on the CPU tensor → device, float,
/// per-channel normalisation → (optionally) four rotations and joint labels → teacher forward in eval mode under no_grad →
/// student forward → loss → backward → SGD step. Each step runs in its own dispose scope; epoch statistics are accumulated
/// on the device and read back once per epoch, so the loop has no per-step host synchronisation.
/// </remarks>
internal sealed class TrainingEngine
{
    private readonly IChannel _channel;
    private readonly Action<TrainingMetrics>? _callback;

    public TrainingEngine(IChannel channel, Action<TrainingMetrics>? callback)
    {
        _channel = channel;
        _callback = callback;
    }

    /// <summary>Trains <paramref name="student"/> in place and returns the metrics of every epoch.</summary>
    public IReadOnlyList<TrainingMetrics> Run(
        ClassifierNetwork student,
        ClassifierNetwork? teacher,
        IDistillationLoss loss,
        ImageTensorDataset train,
        ImageTensorDataset? validation,
        ChannelNormalization normalization,
        TrainingSettings settings)
    {
        if (loss.RequiresTeacher && teacher is null)
            throw new InvalidOperationException("This distiller needs a teacher network, but none was given.");

        var device = settings.Device;
        if (device.type == DeviceType.CPU)
            NativeHeap.KeepFreedMemory(); // a step's freed activations serve the next step instead of faulting in fresh pages
        int rotationCount = loss.UsesRotations ? Rotations.Count : 1;
        var history = new List<TrainingMetrics>(settings.Epochs);
        var clock = Stopwatch.StartNew();

        using var teacherLease = teacher is null ? null
            : new FrozenNetwork(teacher, device, loss.UsesAuxiliaryBranches, settings.FoldTeacherBatchNorms, settings.ChannelsLast && teacher.PrefersChannelsLast,
                settings.TeacherInBFloat16);
        using var frozenNetwork = settings.Trainable == TrainableParts.None ? new FrozenNetwork(student, device, loss.UsesAuxiliaryBranches) : null;
        var parameters = settings.Trainable == TrainableParts.None ? [] : PrepareStudent(student, settings.Trainable, device);
        // Inputs follow the student's layout; a channels-last teacher copy converts its input in its first convolution.
        bool channelsLastInputs = settings.ChannelsLast && student.PrefersChannelsLast && settings.Trainable != TrainableParts.None;
        using var studentLayout = channelsLastInputs ? Training.ChannelsLast.Apply(student) : null;
        var lossModule = loss.TrainableModule;
        var moduleParameters = new List<TorchSharp.Modules.Parameter>();
        if (lossModule is not null)
        {
            lossModule.to(device);
            foreach (var p in lossModule.parameters())
            {
                p.requires_grad = true;
                moduleParameters.Add(p);
            }
        }
        var moduleOptimization = moduleParameters.Count > 0 ? loss.TrainableModuleOptimization : null;
        if (moduleOptimization is null)
            parameters.AddRange(moduleParameters);
        if (parameters.Count + (moduleOptimization is null ? 0 : moduleParameters.Count) == 0)
            throw new InvalidOperationException($"{settings.Phase}: nothing to train (the network is frozen and the loss has no parameters).");
        // What the optimiser updates, by name, for the gradient check of each step.
        var updated = student.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter))
            .Concat(lossModule?.named_parameters().Select(p => ($"{loss.GetType().Name} module: {p.name}", p.parameter)) ?? []).ToArray();
        var factorOf = LearningRateFactorLookup(student, settings.ParameterLearningRateFactors);
        var (optimizerLease, learningRateFactors) = CreateOptimizer(parameters, moduleParameters, moduleOptimization, factorOf, settings);
        using var optimizer = optimizerLease;
        var augmenter = new RandomCropFlip(settings.Seed, settings.RandomCropPadding, settings.HorizontalFlip);
        bool cropEachView = rotationCount > 1 && loss.CropsEachView;
        var flipper = new RandomCropFlip(settings.Seed, 0, settings.HorizontalFlip);
        var viewCropper = new RandomCropFlip(settings.Seed, settings.RandomCropPadding, horizontalFlip: false);
        bool checkEachStep = device.type == DeviceType.CPU; // a CPU .item() costs nothing; on CUDA it would stall the queue
        var sampler = new BatchSampler(train.Count, settings.BatchSize, settings.Seed);
        int firstEpoch = 0;
        if (settings.ResumeFrom is { } resume)
        {
            CheckpointStore.Restore(resume.Path, student, optimizer, lossModule);
            firstEpoch = resume.Manifest.EpochsCompleted;
        }

        // After the resume: the copy starts from the restored weights and statistics.
        string? mixedNotUsed = null;
        using var mixed = settings.MixedPrecision && settings.Trainable != TrainableParts.None
            ? MixedPrecisionStudent.Create(student, device, channelsLastInputs, settings.Phase, out mixedNotUsed) : null;
        if (mixedNotUsed is not null)
            _channel.Warning(MessageSensitivity.None, mixedNotUsed);

        // Every parameter group trains at the scheduled rate times its own factor.
        void SetLearningRate(double rate)
        {
            int groupIndex = 0;
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = rate * learningRateFactors[groupIndex++];
        }

        for (int epoch = firstEpoch; epoch < settings.Epochs; epoch++)
        {
            double lr = settings.Schedule.At(epoch);
            SetLearningRate(lr);
            SetTrainingModes(student, settings.Trainable);
            if (mixed is not null)
                SetTrainingModes(mixed.Compute, settings.Trainable);
            lossModule?.train();

            var termSums = loss.TermNames.Select(_ => zeros(1, dtype: ScalarType.Float64, device: device)).ToArray();
            var correct = zeros(1, dtype: ScalarType.Int64, device: device);
            long seen = 0;
            try
            {
                int[] order = sampler.Order(epoch);
                // Augmentation draws from a stream derived from (seed, epoch): an epoch sees the same crops and flips whatever ran before.
                var random = new Random(SeedDerivation.Derive(settings.Seed, AugmentationStream, epoch));
                for (int batchIndex = 0; batchIndex < sampler.BatchCount; batchIndex++)
                {
                    settings.CancellationToken.ThrowIfCancellationRequested();
                    if (epoch < settings.Schedule.WarmupEpochs)
                        SetLearningRate(settings.Schedule.At(epoch, batchIndex, sampler.BatchCount));
                    if (settings.ReleaseMemoryEachStep)
                        NativeHeap.Trim(); // the previous step's memory is free now; see NativeHeap
                    long stepStart = Stopwatch.GetTimestamp();
                    using var step = NewDisposeScope();
                    var (raw, labels) = sampler.GetBatch(train, order, batchIndex);
                    labels = labels.to(device);
                    var inputs = cropEachView
                        ? normalization.Normalize(RotatedViews.CroppedSeparately(raw, flipper, viewCropper, random).to(device))
                        : RotatedViews.SharedCrop(normalization.Normalize(augmenter.Apply(raw, random).to(device)), rotationCount);
                    var targets = rotationCount > 1 ? Rotations.JointLabels(labels) : labels;
                    var where = new TrainingStep(epoch, settings.Epochs, batchIndex, sampler.BatchRows(order, batchIndex).ToArray(),
                        SeedDerivation.Derive(settings.Seed, LossStream, (long)epoch * sampler.BatchCount + batchIndex));
                    inputs = loss.ExtendInputs(inputs, labels, where);
                    if (channelsLastInputs)
                        inputs = Training.ChannelsLast.Of(inputs);
                    long dataEnd = Stopwatch.GetTimestamp();

                    // Teacher first: its transient activations are gone before the student's saved ones exist.
                    var teacherOut = teacherLease?.Forward(inputs, loss.UsesTeacherFeatures);
                    student.ComputeAuxiliary = loss.UsesAuxiliaryBranches;
                    student.KeepAuxiliaryMaps = loss.UsesAuxiliaryMaps;
                    var studentOut = mixed is null ? student.forward(inputs) : mixed.Forward(inputs);
                    long lossStart = Stopwatch.GetTimestamp();

                    var lossBatch = new LossBatch(studentOut, teacherOut, labels, targets, rotationCount, where);
                    var result = loss.Compute(lossBatch);
                    StepMemory.ReleaseAfterLoss(studentOut, teacherOut);
                    if (checkEachStep)
                        CheckFinite(result, settings.Phase, epoch, batchIndex, lr);
                    long lossEnd = Stopwatch.GetTimestamp();
                    optimizer.zero_grad();
                    result.Total.backward();
                    mixed?.MoveGradientsToMasters();
                    if (checkEachStep)
                        CheckFiniteGradients(updated, result, settings.Phase, epoch, batchIndex, lr);
                    optimizer.step();
                    using (no_grad())
                        loss.OnStepEnd(lossBatch);

                    long bookkeepingStart = Stopwatch.GetTimestamp();
                    using (no_grad())
                    {
                        long b = labels.shape[0];
                        for (int t = 0; t < termSums.Length; t++)
                            termSums[t].add_(result.Terms[t].Value.detach().to_type(ScalarType.Float64) * b);
                        // The batch's own rows come first (a loss may have appended rows of its own: ExtendInputs).
                        var own = studentOut.Logits.narrow(0, 0, b * rotationCount);
                        var originals = rotationCount > 1 ? Rotations.Originals(own) : own;
                        correct.add_(originals.argmax(1).eq(labels).sum());
                        seen += b;
                    }
                    settings.StepObserver?.Invoke(new StepTiming(epoch + 1, batchIndex + 1, (int)labels.shape[0],
                        Stopwatch.GetElapsedTime(stepStart, dataEnd).TotalSeconds, Stopwatch.GetElapsedTime(stepStart).TotalSeconds,
                        Stopwatch.GetElapsedTime(lossStart, lossEnd).TotalSeconds, Stopwatch.GetElapsedTime(bookkeepingStart).TotalSeconds));
                }

                mixed?.CopyBuffersToMaster();
                var terms = new Dictionary<string, double>();
                for (int t = 0; t < termSums.Length; t++)
                    terms[loss.TermNames[t]] = termSums[t].item<double>() / seen;
                double trainAccuracy = correct.item<long>() / (double)seen;
                double totalLoss = terms.Values.Sum();
                if (!double.IsFinite(totalLoss))
                    throw new TrainingDivergedException(
                        $"{settings.Phase} training diverged: the mean loss of epoch {epoch + 1} is {totalLoss}. Try a lower LearningRate (now {lr}).",
                        epoch + 1, null);
                double? validationAccuracy = validation is null ? null : Evaluate(student, validation, normalization, settings.BatchSize, device);
                NativeHeap.Trim(); // the epoch's freed memory goes back to the operating system (see NativeHeap.KeepFreedMemory)

                var metrics = new TrainingMetrics(settings.Phase, epoch + 1, settings.Epochs, totalLoss, terms, lr, trainAccuracy, validationAccuracy, clock.Elapsed,
                    loss.EpochDiagnostics());
                history.Add(metrics);
                if (settings.Checkpoints is { } store)
                    store.Save(CheckpointManifestFor(student, train, normalization, settings, epoch + 1, validationAccuracy), student, optimizer, lossModule);
                _channel.Info(MessageSensitivity.None, metrics.ToString());
                _callback?.Invoke(metrics);
            }
            finally
            {
                foreach (var t in termSums)
                    t.Dispose();
                correct.Dispose();
            }
        }

        student.eval();
        student.ComputeAuxiliary = true;
        student.KeepAuxiliaryMaps = false;
        lossModule?.eval();
        return history;
    }

    private static CheckpointManifest CheckpointManifestFor(ClassifierNetwork network, ImageTensorDataset train, ChannelNormalization normalization,
        TrainingSettings settings, int epochsCompleted, double? validationAccuracy) => new()
    {
        Phase = settings.Phase,
        Architecture = network.Architecture,
        InputChannels = network.InputChannels,
        ClassCount = network.ClassCount,
        RotationCount = network.RotationCount,
        EpochsCompleted = epochsCompleted,
        Epochs = settings.Epochs,
        Seed = settings.Seed,
        TrainRows = train.Count,
        BatchSize = settings.BatchSize,
        NormalizationMean = normalization.Mean.ToArray(),
        NormalizationStd = normalization.Std.ToArray(),
        ValidationAccuracy = validationAccuracy,
    };

    /// <summary>Stream number of the augmentation's per-epoch random source in <see cref="SeedDerivation"/>.</summary>
    internal const int AugmentationStream = 2;

    /// <summary>
    /// Stream number of the per-step seed a loss gets (<see cref="TrainingStep.Seed"/>) in <see cref="SeedDerivation"/>. Above 2^32,
    /// so that it never meets the streams <see cref="BatchSampler"/> uses (one per epoch number).
    /// </summary>
    internal const long LossStream = (1L << 32) + 11;

    private static void CheckFinite(LossResult result, string phase, int epoch, int batchIndex, double lr)
    {
        if (result.Total.isfinite().item<bool>())
            return;
        string terms = string.Join(", ", result.Terms.Select(t => $"{t.Key} {t.Value.item<float>()}"));
        throw new TrainingDivergedException(
            $"{phase} training diverged at epoch {epoch + 1}, batch {batchIndex + 1}: the loss is not finite ({terms}). " +
            $"No update was applied for this batch. Try a lower LearningRate (now {lr}).", epoch + 1, batchIndex + 1);
    }

    /// <summary>
    /// Refuses a step whose loss is finite but whose gradient is not (before the optimiser spreads it into every weight, after which the
    /// next loss is NaN and the error would blame the learning rate). One reduction over all gradients; the parameter is named only
    /// when that sum is not finite.
    /// </summary>
    private static void CheckFiniteGradients(IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> parameters, LossResult result,
        string phase, int epoch, int batchIndex, double lr)
    {
        using var scope = NewDisposeScope();
        var sums = parameters.Select(p => p.Parameter.grad).OfType<Tensor>().Select(g => g.sum()).ToArray();
        if (sums.Length == 0 || stack(sums).sum().isfinite().item<bool>())
            return;
        var first = parameters.FirstOrDefault(p => p.Parameter.grad is { } g && !g.isfinite().all().item<bool>());
        if (first.Name is null)
            return; // finite gradients whose float32 sum overflowed
        string terms = string.Join(", ", result.Terms.Select(t => $"{t.Key} {t.Value.item<float>()}"));
        throw new TrainingDivergedException(
            $"{phase} training diverged at epoch {epoch + 1}, batch {batchIndex + 1}: the loss is finite ({terms}) but its gradient is not, " +
            $"first at '{first.Name}'. No update was applied for this batch. A finite loss with a NaN or infinite gradient comes from a term " +
            "without a finite derivative at that point (a square root or a norm of zero), an overflow in the backward pass, or a kernel " +
            $"defect (docs/reliability.md lists the known ones); a lower LearningRate (now {lr}) helps only with an overflow.", epoch + 1, batchIndex + 1);
    }

    /// <summary>Top-1 accuracy of the main head on unaugmented, unrotated images.</summary>
    public static double Evaluate(ClassifierNetwork network, ImageTensorDataset data, ChannelNormalization normalization, int batchSize, Device device)
    {
        bool wasTraining = network.training;
        network.eval();
        long correct = 0;
        using (no_grad())
        {
            for (long start = 0; start < data.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                long length = Math.Min(batchSize, data.Count - start);
                var images = normalization.Normalize(data.Images.narrow(0, start, length).to(device));
                var logits = network.ForwardLogits(images);
                correct += logits.argmax(1).cpu().eq(data.Labels.narrow(0, start, length)).sum().item<long>();
            }
        }
        if (wasTraining)
            network.train();
        return correct / (double)data.Count;
    }

    /// <summary>The learning-rate factor of each listed network parameter, by its native handle; null when none is listed.</summary>
    private static Dictionary<IntPtr, double>? LearningRateFactorLookup(ClassifierNetwork student, IReadOnlyDictionary<string, double>? factors)
    {
        if (factors is null || factors.Count == 0)
            return null;
        var lookup = new Dictionary<IntPtr, double>();
        foreach (var (name, parameter) in student.named_parameters())
        {
            if (factors.TryGetValue(name, out double factor))
                lookup[parameter.Handle] = factor;
        }
        return lookup;
    }

    /// <summary>
    /// SGD over the network's parameters and the loss's, in one group (the common case, and the network's settings), or in several
    /// when the loss asks for its own settings (<see cref="IDistillationLoss.TrainableModuleOptimization"/>) or some network
    /// parameters train at a factor of the rate (<see cref="TrainingSettings.ParameterLearningRateFactors"/>); with each group's
    /// factor of the scheduled rate. Groups keep the parameters' order, so a resumed run rebuilds the same optimiser.
    /// </summary>
    private static (torch.optim.Optimizer Optimizer, double[] LearningRateFactors) CreateOptimizer(
        List<TorchSharp.Modules.Parameter> networkParameters, List<TorchSharp.Modules.Parameter> moduleParameters,
        ModuleOptimization? moduleOptimization, Dictionary<IntPtr, double>? factorOf, TrainingSettings settings)
    {
        double lr = settings.Schedule.Initial;
        if (moduleOptimization is null && factorOf is null)
            return (torch.optim.SGD(networkParameters, lr, settings.Momentum, 0, settings.WeightDecay, settings.Nesterov), [1.0]);

        var groups = new List<TorchSharp.Modules.SGD.ParamGroup>();
        var factors = new List<double>();
        foreach (var group in networkParameters.GroupBy(p => factorOf is not null && factorOf.TryGetValue(p.Handle, out double f) ? f : 1.0))
        {
            groups.Add(new TorchSharp.Modules.SGD.ParamGroup(group.ToList(), lr * group.Key, settings.Momentum, 0, settings.WeightDecay, settings.Nesterov, false));
            factors.Add(group.Key);
        }
        if (moduleOptimization is null)
            return (torch.optim.SGD(groups, lr, settings.Momentum, 0, settings.WeightDecay, settings.Nesterov), factors.ToArray());

        groups.Add(new TorchSharp.Modules.SGD.ParamGroup(moduleParameters, lr * moduleOptimization.LearningRateFactor, settings.Momentum, 0,
            moduleOptimization.WeightDecay ?? settings.WeightDecay, settings.Nesterov, false));
        factors.Add(moduleOptimization.LearningRateFactor);
        return (torch.optim.SGD(groups, lr, settings.Momentum, 0, settings.WeightDecay, settings.Nesterov), factors.ToArray());
    }

    private static List<TorchSharp.Modules.Parameter> PrepareStudent(ClassifierNetwork student, TrainableParts trainable, Device device)
    {
        student.to(device);
        bool backboneTrains = trainable == TrainableParts.All;
        student.DetachAuxiliaryInputs = !backboneTrains;
        foreach (var p in student.Backbone.parameters())
            p.requires_grad = backboneTrains;
        if (trainable == TrainableParts.AuxiliaryAndHead)
        {
            var head = student.HeadTensorNames.ToHashSet(StringComparer.Ordinal);
            foreach (var (name, p) in student.named_parameters())
            {
                if (head.Contains(name))
                    p.requires_grad = true;
            }
        }
        foreach (var p in student.Auxiliary.parameters())
            p.requires_grad = true;
        return student.parameters().Where(p => p.requires_grad).ToList();
    }

    private static void SetTrainingModes(ClassifierNetwork student, TrainableParts trainable)
    {
        if (trainable == TrainableParts.None)
            return; // FrozenNetwork keeps it in eval mode
        student.train();
        if (trainable is TrainableParts.AuxiliaryOnly or TrainableParts.AuxiliaryAndHead)
            student.Backbone.eval();
    }
}
