// Licensed under the MIT license. See LICENSE in the repository root.

using Microsoft.ML.Distillation.Estimators;
using Microsoft.ML.Distillation.Onnx;
using Microsoft.ML.Distillation.Persistence;
using Microsoft.ML.Distillation.Transformers;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Distillation;

/// <summary>
/// Knowledge distillation for image classifiers: <c>mlContext.Distillation</c>. Factory methods for the estimators
/// (flat and Options overloads) and for loading saved models.
/// </summary>
public sealed class DistillationCatalog
{
    internal DistillationCatalog(MLContext mlContext)
    {
        MLContext = mlContext;
        Environment = mlContext;
    }

    internal MLContext MLContext { get; }

    internal IHostEnvironment Environment { get; }

    /// <summary>
    /// Pretrains an HSAKD teacher: a network with auxiliary branches that learn class x rotation beside the main head.
    /// </summary>
    /// <param name="labelColumnName">Label column; must be a key type (use <c>MapValueToKey</c>).</param>
    /// <param name="imageColumnName">Image column: <c>MLImage</c> (square, fixed size) or a known-size pixel vector of C x H x W.</param>
    /// <param name="architecture">Network from the zoo, e.g. "wrn40_2", "resnet32x4", "vgg13".</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Original images per step (the networks see four rotations of each).</param>
    /// <param name="learningRate">Initial SGD learning rate, decayed × 0.1 at 62.5%, 75% and 87.5% of the epochs.</param>
    /// <returns>An estimator whose <c>Fit</c> returns an <see cref="ImageClassifierTransformer"/>.</returns>
    /// <example>
    /// <code>
    /// var teacher = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.Distillation.Teacher(architecture: "wrn16_2", epochs: 30))
    ///     .Fit(train);
    /// </code>
    /// </example>
    public TeacherEstimator Teacher(
        string labelColumnName = TrainingOptions.Defaults.LabelColumnName,
        string imageColumnName = TrainingOptions.Defaults.ImageColumnName,
        string architecture = TeacherOptions.DefaultArchitecture,
        int epochs = TrainingOptions.Defaults.Epochs,
        int batchSize = TrainingOptions.Defaults.BatchSize,
        double learningRate = TrainingOptions.Defaults.LearningRate)
        => new(Environment, Flat(new TeacherOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Pretrains an HSAKD teacher with every option available.</summary>
    /// <param name="options">Columns, network, schedule, augmentation, device and progress; see <see cref="TeacherOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns an <see cref="ImageClassifierTransformer"/>.</returns>
    public TeacherEstimator Teacher(TeacherOptions options) => new(Environment, options);

    /// <summary>
    /// Distils a teacher into a student with HSAKD (Hierarchical Self-supervised Augmented Knowledge Distillation): the student's
    /// auxiliary branches mimic the teacher's joint class x rotation distributions, and its main head the teacher's class distribution.
    /// </summary>
    /// <param name="teacher">A fitted teacher: the <see cref="ImageClassifierTransformer"/> from <see cref="Teacher(TeacherOptions)"/> or
    /// <see cref="LoadModel(string, ComputeDevice)"/>, or a fitted chain ending in one. It is not modified.</param>
    /// <param name="labelColumnName">Label column; a key with the teacher's classes in the teacher's order.</param>
    /// <param name="imageColumnName">Image column, prepared as for the teacher.</param>
    /// <param name="architecture">Student network from the zoo with as many auxiliary branches as the teacher's (e.g. "wrn16_2", "resnet8x4").</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Original images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student as an <see cref="ImageClassifierTransformer"/>.</returns>
    public HsakdEstimator Hsakd(ITransformer teacher,
        string labelColumnName = TrainingOptions.Defaults.LabelColumnName,
        string imageColumnName = TrainingOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = TrainingOptions.Defaults.Epochs,
        int batchSize = TrainingOptions.Defaults.BatchSize,
        double learningRate = TrainingOptions.Defaults.LearningRate)
        => new(Environment, teacher, Flat(new HsakdOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Distils a teacher into a student with HSAKD, with every option available.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">Student network, loss weights and temperature, schedule; see <see cref="HsakdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public HsakdEstimator Hsakd(ITransformer teacher, HsakdOptions options) => new(Environment, teacher, options);

    /// <summary>Distils a teacher saved with <see cref="ImageClassifierTransformer.Save(string)"/> into a student with HSAKD.</summary>
    /// <param name="teacherModelPath">The saved teacher.</param>
    /// <param name="options">See <see cref="HsakdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student. It holds the loaded teacher for its lifetime (freed when it is
    /// collected); to free the teacher at a chosen point, load it with <see cref="LoadModel(string, ComputeDevice)"/>, pass it to
    /// the other overload and dispose it.</returns>
    public HsakdEstimator Hsakd(string teacherModelPath, HsakdOptions options)
        => WithLoadedTeacher(teacherModelPath, teacher => new HsakdEstimator(Environment, teacher, options));

    /// <summary>
    /// Distils a teacher into a student with SSKD ("Knowledge Distillation Meets Self-Supervision"): classic KD plus the teacher's
    /// class distributions on rotated views and its contrastive similarities between rotated and unrotated images, with the reference
    /// weights (0.1, 0.9, 2.7, 10). The teacher's projection head is trained first on the frozen teacher and cached with it.
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="labelColumnName">Label column; a key with the teacher's classes in the teacher's order.</param>
    /// <param name="imageColumnName">Image column, prepared as for the teacher (square images).</param>
    /// <param name="architecture">Student network from the zoo; any family (SSKD pairs no auxiliary branches).</param>
    /// <param name="epochs">Training epochs of the student.</param>
    /// <param name="batchSize">Original images per step (each seen at four rotations).</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public SskdEstimator Sskd(ITransformer teacher,
        string labelColumnName = TrainingOptions.Defaults.LabelColumnName,
        string imageColumnName = TrainingOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = TrainingOptions.Defaults.Epochs,
        int batchSize = TrainingOptions.Defaults.BatchSize,
        double learningRate = TrainingOptions.Defaults.LearningRate)
        => new(Environment, teacher, Flat(new SskdOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Distils a teacher into a student with SSKD, with every option available.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">Student network, loss weights, temperatures, selection ratios, the teacher-head stage; see <see cref="SskdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public SskdEstimator Sskd(ITransformer teacher, SskdOptions options) => new(Environment, teacher, options);

    /// <summary>Distils a teacher saved with <see cref="ImageClassifierTransformer.Save(string)"/> into a student with SSKD.</summary>
    /// <param name="teacherModelPath">The saved teacher.</param>
    /// <param name="options">See <see cref="SskdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student. It holds the loaded teacher for its lifetime, as the HSAKD overload does.</returns>
    public SskdEstimator Sskd(string teacherModelPath, SskdOptions options)
        => WithLoadedTeacher(teacherModelPath, teacher => new SskdEstimator(Environment, teacher, options));

    /// <summary>Vanilla knowledge distillation (Hinton et al., 2015): <c>0.1·CE + 0.9·T²·KL</c> at T = 4.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="labelColumnName">Label column; a key with the teacher's classes in the teacher's order.</param>
    /// <param name="imageColumnName">Image column, prepared as for the teacher.</param>
    /// <param name="architecture">Student network from the zoo.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public KdEstimator Kd(ITransformer teacher,
        string labelColumnName = TrainingOptions.Defaults.LabelColumnName,
        string imageColumnName = TrainingOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = TrainingOptions.Defaults.Epochs,
        int batchSize = TrainingOptions.Defaults.BatchSize,
        double learningRate = TrainingOptions.Defaults.LearningRate)
        => new(Environment, teacher, Flat(new KdOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Vanilla knowledge distillation with every option available.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="KdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public KdEstimator Kd(ITransformer teacher, KdOptions options) => new(Environment, teacher, options);

    /// <summary>
    /// Decoupled knowledge distillation (Zhao et al., CVPR 2022): <c>CE + w(epoch)·(α·TCKD + β·NCKD)</c> at T = 4, α = 1, β = 8, with the
    /// distillation weight warmed up linearly; see <see cref="DkdOptions"/>.
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="DkdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public DkdEstimator Dkd(ITransformer teacher, DkdOptions options) => new(Environment, teacher, options);

    /// <summary>
    /// Multi-granularity distillation on a KD base (Shao &amp; Chen): KD toward a stabilised teacher target, plus the teacher's output
    /// re-expressed through 64- and 256-wide bottlenecks (trained once per teacher in a pre-stage) matched by the student's own encoders;
    /// see <see cref="MgdOptions"/>.
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="MgdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public MgdEstimator Mgd(ITransformer teacher, MgdOptions options) => new(Environment, teacher, options);

    /// <summary>Similarity-preserving KD (Tung and Mori): the batch's similarity matrix of the last stage map, β = 3000; see <see cref="SpOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="SpOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public SpEstimator Sp(ITransformer teacher, SpOptions options) => new(Environment, teacher, options);

    /// <summary>Attention transfer (Zagoruyko and Komodakis): spatial attention maps of every stage, β = 1000, p = 2; see <see cref="AtOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="AtOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public AtEstimator At(ITransformer teacher, AtOptions options) => new(Environment, teacher, options);

    /// <summary>Probabilistic knowledge transfer (Passalis and Tefas): affinity distributions of the pooled embeddings, β = 30000; see <see cref="PktOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="PktOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public PktEstimator Pkt(ITransformer teacher, PktOptions options) => new(Environment, teacher, options);

    /// <summary>Relational KD (Park et al.): distances (25) and angles (50) between the pooled embeddings; see <see cref="RkdOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="RkdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public RkdEstimator Rkd(ITransformer teacher, RkdOptions options) => new(Environment, teacher, options);

    /// <summary>FitNets hint learning (Romero et al.): the student's middle-stage map through a learned regressor approximates the teacher's, β = 100; see <see cref="FitNetOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="FitNetOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public FitNetEstimator FitNet(ITransformer teacher, FitNetOptions options) => new(Environment, teacher, options);

    /// <summary>Feature regression with an MLP head (SimReg, Navaneet et al.): a predictor on the student's embedding regresses the teacher's; see <see cref="SimRegOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="SimRegOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public SimRegEstimator SimReg(ITransformer teacher, SimRegOptions options) => new(Environment, teacher, options);

    /// <summary>Contrastive representation distillation (Tian et al.): memory banks over the training rows, K = 16384 negatives of other classes, β = 0.8; see <see cref="CrdOptions"/>.</summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="CrdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public CrdEstimator Crd(ITransformer teacher, CrdOptions options) => new(Environment, teacher, options);

    /// <summary>
    /// Contrastive distillation through multi-scale feature decoupling (MSFD), our reading of the paper: local vectors of the stage maps
    /// at several grid scales, contrasted within the batch sample-wise and channel-wise; see <see cref="MsfdOptions"/>.
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="options">See <see cref="MsfdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public MsfdEstimator Msfd(ITransformer teacher, MsfdOptions options) => new(Environment, teacher, options);

    /// <summary>
    /// Lists a folder of labelled images, one sub-folder per class (<c>cats/001.jpg</c>, <c>dogs/002.png</c>, ...): every .png, .jpg,
    /// .jpeg and .bmp file below it, in path order, as a data view with <c>ImagePath</c> (relative to <paramref name="folder"/>, for
    /// <c>LoadImages(..., imageFolder: folder, inputColumnName: "ImagePath")</c>) and <c>Label</c> (the name of the file's folder).
    /// </summary>
    /// <param name="folder">The root folder.</param>
    /// <returns>The rows, ready for <c>MapValueToKey("Label")</c> and <c>LoadImages</c>.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ArgumentException">The folder holds no image files.</exception>
    public IDataView ListImageFolder(string folder) => MLContext.Data.LoadFromEnumerable(LabeledImageFile.List(folder));

    /// <summary>
    /// Distils with a method of your own: a <see cref="DistillationMethod"/> gives the loss of each step; the library does the rest
    /// (data, augmentation, optimiser, schedule, checkpoints, progress, the fitted model).
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified.</param>
    /// <param name="method">The method: its name, its terms, its loss.</param>
    /// <param name="options">The student and the training; see <see cref="StudentOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public DistillationMethodEstimator Distill(ITransformer teacher, DistillationMethod method, StudentOptions options)
        => new(Environment, teacher, method, options);

    /// <summary>
    /// A model-selection sweep: trains each candidate student from <paramref name="teacher"/>, scores it on held-out data and measures
    /// its cost, so that <see cref="StudentSweepResult.ParetoFront"/> and <see cref="StudentSweepResult.Best"/> say which student to
    /// deploy. Run it with <see cref="StudentSweep.Run"/>.
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); shared by every trial, not modified.</param>
    /// <param name="options">Candidates, validation data, strategy, budget, output folder; see <see cref="StudentSweepOptions"/>.</param>
    /// <returns>The sweep, ready to run.</returns>
    public StudentSweep CreateStudentSweep(ITransformer teacher, StudentSweepOptions options) => new(Environment, teacher, options);

    /// <summary>A model-selection sweep from a saved teacher, loaded once for the whole sweep (so its pre-stages run once).</summary>
    /// <param name="teacherModelPath">A teacher saved with <see cref="ImageClassifierTransformer.Save(string)"/>.</param>
    /// <param name="options">See <see cref="StudentSweepOptions"/>.</param>
    /// <returns>The sweep, ready to run. It owns the loaded teacher: dispose the sweep to free it.</returns>
    public StudentSweep CreateStudentSweep(string teacherModelPath, StudentSweepOptions options)
        => WithLoadedTeacher(teacherModelPath, teacher => new StudentSweep(Environment, teacher, options, ownsTeacher: true));

    /// <summary>Loads a saved teacher on the CPU and builds <paramref name="create"/> from it; the teacher is disposed when that throws.</summary>
    private T WithLoadedTeacher<T>(string teacherModelPath, Func<ImageClassifierTransformer, T> create)
    {
        var teacher = LoadModel(teacherModelPath, ComputeDevice.Cpu);
        try
        {
            return create(teacher);
        }
        catch
        {
            teacher.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The student that <paramref name="options"/> describe, whatever the method: <see cref="HsakdOptions"/> gives an HSAKD student,
    /// <see cref="SskdOptions"/> SSKD, <see cref="DkdOptions"/> DKD, <see cref="MgdOptions"/> MGD, <see cref="KdOptions"/> KD, <see cref="SpOptions"/> SP, and so on
    /// for every method's options; plain <see cref="StudentOptions"/> gives the baseline (trained without the teacher). For
    /// model-selection loops over candidates given as option objects.
    /// </summary>
    /// <param name="teacher">A fitted teacher (or a fitted chain ending in one); it is not modified. The baseline does not use it.</param>
    /// <param name="options">The method's options; their type chooses the method.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the student.</returns>
    public IEstimator<ImageClassifierTransformer> Distill(ITransformer teacher, StudentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.CreateEstimator(Environment, teacher);
    }

    /// <summary>
    /// The no-teacher baseline: the student trained alone with cross-entropy, through the same engine and schedule as the
    /// distillers, so what distillation buys can be measured.
    /// </summary>
    /// <param name="labelColumnName">Label column; a key.</param>
    /// <param name="imageColumnName">Image column.</param>
    /// <param name="architecture">Network from the zoo.</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the trained network.</returns>
    public BaselineEstimator Baseline(
        string labelColumnName = TrainingOptions.Defaults.LabelColumnName,
        string imageColumnName = TrainingOptions.Defaults.ImageColumnName,
        string architecture = StudentOptions.DefaultArchitecture,
        int epochs = TrainingOptions.Defaults.Epochs,
        int batchSize = TrainingOptions.Defaults.BatchSize,
        double learningRate = TrainingOptions.Defaults.LearningRate)
        => new(Environment, Flat(new StudentOptions(), labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>The no-teacher baseline with every option available.</summary>
    /// <param name="options">See <see cref="StudentOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the trained network.</returns>
    public BaselineEstimator Baseline(StudentOptions options) => new(Environment, options);

    /// <summary>
    /// Zipf's label smoothing (Liang et al., ECCV 2022): self-distillation with no teacher; the network's own ranking of the classes
    /// gives Zipf-shaped soft targets over the non-target classes; see <see cref="ZipfLsOptions"/>.
    /// </summary>
    /// <param name="options">See <see cref="ZipfLsOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the network.</returns>
    public ZipfLsEstimator ZipfLabelSmoothing(ZipfLsOptions options) => new(Environment, options);

    /// <summary>
    /// MixSKD (Yang et al., ECCV 2022): self-distillation with no teacher, from mixup pairs, through the network's auxiliary branches
    /// and a self-teacher built from their final maps; see <see cref="MixSkdOptions"/>.
    /// </summary>
    /// <param name="options">See <see cref="MixSkdOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns the network.</returns>
    public MixSkdEstimator MixSkd(MixSkdOptions options) => new(Environment, options);

    /// <summary>
    /// Online distillation: <paramref name="peerCount"/> networks of one architecture trained together from scratch, teaching each
    /// other; no pretrained teacher. <c>Fit</c> returns peer 0 (or the best on a validation set: see <see cref="OnlineEstimator"/>).
    /// </summary>
    /// <param name="method">How the peers teach each other: HSAKD online (default), MCL or FFL.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="imageColumnName">Image column.</param>
    /// <param name="architecture">The peers' network from the zoo.</param>
    /// <param name="peerCount">Networks trained together (at least 2).</param>
    /// <param name="epochs">Training epochs.</param>
    /// <param name="batchSize">Images per step.</param>
    /// <param name="learningRate">Initial SGD learning rate.</param>
    /// <returns>An estimator whose <c>Fit</c> returns one trained peer and whose <c>FitPeers</c> returns them all.</returns>
    public OnlineEstimator Online(
        OnlineMethod method = OnlineMethod.Hsakd,
        string labelColumnName = TrainingOptions.Defaults.LabelColumnName,
        string imageColumnName = TrainingOptions.Defaults.ImageColumnName,
        string architecture = OnlineOptions.DefaultArchitecture,
        int peerCount = 2,
        int epochs = TrainingOptions.Defaults.Epochs,
        int batchSize = TrainingOptions.Defaults.BatchSize,
        double learningRate = TrainingOptions.Defaults.LearningRate)
        => new(Environment, Flat(new OnlineOptions { Method = method, PeerCount = peerCount }, labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate));

    /// <summary>Online distillation with every option available (peers of different architectures, MCL's weights).</summary>
    /// <param name="options">See <see cref="OnlineOptions"/>.</param>
    /// <returns>An estimator whose <c>Fit</c> returns one trained peer and whose <c>FitPeers</c> returns them all.</returns>
    public OnlineEstimator Online(OnlineOptions options) => new(Environment, options);

    /// <summary>Fills the arguments every flat overload shares into an options object.</summary>
    private static TOptions Flat<TOptions>(TOptions options, string labelColumnName, string imageColumnName, string architecture,
        int epochs, int batchSize, double learningRate)
        where TOptions : TrainingOptions
    {
        options.LabelColumnName = labelColumnName;
        options.ImageColumnName = imageColumnName;
        options.Architecture = architecture;
        options.Epochs = epochs;
        options.BatchSize = batchSize;
        options.LearningRate = learningRate;
        return options;
    }

    /// <summary>
    /// Returns <paramref name="model"/> with every <see cref="ImageClassifierTransformer"/> in it (at any depth of transformer
    /// chains) replaced by an equivalent chain of ML.NET's own transforms that runs the network with ONNX Runtime. The result can
    /// be saved with <c>mlContext.Model.Save</c> and loaded with <c>mlContext.Model.Load</c> by a process that has neither
    /// TorchSharp nor this library: only Microsoft.ML, Microsoft.ML.ImageAnalytics (for image columns), Microsoft.ML.OnnxTransformer
    /// and an ONNX Runtime package (Microsoft.ML.OnnxRuntime, or its GPU variant).
    /// </summary>
    /// <param name="model">A fitted model: an <see cref="ImageClassifierTransformer"/> or a chain that contains one or more.</param>
    /// <returns>
    /// The converted model. Transformers other than the classifiers are the same instances, and chains keep their scopes.
    /// Dispose it when done: the ONNX transformers hold native sessions.
    /// </returns>
    /// <remarks>
    /// <format type="text/markdown"><![CDATA[
    /// Each classifier becomes: the pixel step (`ExtractPixels` with RGB planes and values 0..255 for `MLImage` columns,
    /// `ConvertType` to Single for byte vectors, `CopyColumns` for float vectors) into an intermediate column, `ApplyOnnxModel`
    /// with the network, its normalisation, softmax and arg-max embedded (the ONNX bytes are stored in the saved zip), then
    /// `Hash` and `MapValue` that turn the arg-max into `PredictedLabel`, and `DropColumns` of the intermediate columns
    /// (`DistillationOnnxPixels`, `DistillationOnnxClassIndex`, `DistillationOnnxClassHash`).
    ///
    /// | Column | Type | Same as the TorchSharp transformer? |
    /// | -- | -- | -- |
    /// | `Score` | `Vector<Single>` of K | the same probabilities (to float32 rounding); without the slot-name and score-kind annotations |
    /// | `PredictedLabel` | key of K values, KeyValues = class names | the same key values and names, so `MapKeyToValue` and the evaluators work |
    ///
    /// Scoring runs one row at a time, as ML.NET's OnnxTransformer does.
    /// ]]></format>
    /// </remarks>
    /// <example>
    /// <code>
    /// ITransformer model = pipeline.Fit(train);                        // contains the TorchSharp classifier
    /// using var servable = ml.Distillation.ConvertToOnnxScoring(model);   // a TransformerChain: savable and disposable
    /// ml.Model.Save(servable, train.Schema, "model.zip");
    /// // In the serving process (no TorchSharp): ml.Model.Load("model.zip", out var inputSchema).Transform(data)
    /// </code>
    /// </example>
    /// <exception cref="ArgumentException"><paramref name="model"/> contains no <see cref="ImageClassifierTransformer"/>.</exception>
    /// <returns>
    /// The converted model as a <see cref="TransformerChain{TLastTransformer}"/>: save it with <c>mlContext.Model.Save</c> and dispose it
    /// (it holds ONNX Runtime sessions) when done.
    /// </returns>
    public TransformerChain<ITransformer> ConvertToOnnxScoring(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int converted = 0;
        var result = OnnxScoringConversion.Convert(MLContext, model, ref converted);
        if (converted == 0)
        {
            throw new ArgumentException(
                $"The model contains no {nameof(ImageClassifierTransformer)} to convert (it is a {model.GetType().Name}).", nameof(model));
        }

        return result as TransformerChain<ITransformer> ?? new TransformerChain<ITransformer>(result);
    }

    /// <summary>Loads a model saved with <see cref="ImageClassifierTransformer.Save(string)"/>.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="device">Where to score.</param>
    /// <returns>The fitted transformer, ready to <c>Transform</c>.</returns>
    public ImageClassifierTransformer LoadModel(string path, ComputeDevice device = ComputeDevice.Auto)
        => new(Environment, ModelFile.Load(path, device));

    /// <summary>
    /// Opens an ONNX image classifier (exported by this library, PyTorch, TensorFlow or a cloud service) as a frozen teacher for the
    /// logit methods: pass the result to <see cref="Kd(ITransformer, KdOptions)"/> or <see cref="Dkd(ITransformer, DkdOptions)"/>
    /// (CTKD's curriculum temperature included). ONNX Runtime runs it on every augmented training batch. It gives logits only, so
    /// HSAKD, SSKD, MGD and the feature methods refuse it with a message. The input, output, shape, class names and normalisation are
    /// checked here, and the model runs once on a zero batch, so a mismatch fails before any training.
    /// </summary>
    /// <param name="onnxPath">The .onnx file.</param>
    /// <param name="options">How to feed it; null: the defaults, enough for files written by <c>ExportOnnx</c>.</param>
    /// <returns>A transformer that scores with the ONNX model (Score, PredictedLabel) and serves as a teacher. It cannot be saved or
    /// exported (it is the .onnx file).</returns>
    /// <exception cref="ArgumentException">An input, output, shape or class list does not fit; the message names what was expected.</exception>
    public ImageClassifierTransformer LoadOnnxTeacher(string onnxPath, OnnxTeacherOptions? options = null)
        => new(Environment, OnnxTeacherLoader.Load(onnxPath, options ?? new OnnxTeacherOptions()));

    /// <summary>Loads a model from a stream (which stays open).</summary>
    /// <param name="stream">The saved model.</param>
    /// <param name="device">Where to score.</param>
    /// <returns>The fitted transformer, ready to <c>Transform</c>.</returns>
    public ImageClassifierTransformer LoadModel(Stream stream, ComputeDevice device = ComputeDevice.Auto)
        => new(Environment, ModelFile.Load(stream, device));
}
