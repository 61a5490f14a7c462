// Licensed under the MIT license. See LICENSE in the repository root.

namespace Microsoft.ML.Distillation;

/// <summary>Options of <c>mlContext.Distillation.Teacher</c>: a network with HSAKD auxiliary branches trained on class and rotation.</summary>
public sealed class TeacherOptions : TrainingOptions
{
    /// <summary>Default teacher architecture: "wrn40_2".</summary>
    public const string DefaultArchitecture = "wrn40_2";

    /// <summary>Creates options with the documented defaults.</summary>
    public TeacherOptions()
    {
        Architecture = DefaultArchitecture;
    }

    /// <summary>Joint (default) or frozen-backbone pretraining.</summary>
    public TeacherTrainingMode Mode = TeacherTrainingMode.Joint;

    /// <summary>Default of <see cref="PretrainedLearningRateFactor"/> when <see cref="PretrainedWeightsPath"/> is set: 0.1.</summary>
    public const double DefaultPretrainedLearningRateFactor = 0.1;

    /// <summary>
    /// A model saved with <c>Save(path)</c> whose backbone starts the training: with <see cref="PretrainedWeightsPath"/>, one of
    /// the two starting points that <see cref="TeacherTrainingMode.FrozenBackbone"/> needs; optional (warm start) for joint
    /// training. Its architecture, input shape and class count must match. Its auxiliary branches are not reused unless
    /// <see cref="KeepInitialAuxiliaryBranches"/> is set.
    /// </summary>
    public string? InitialModelPath;

    /// <summary>
    /// With <see cref="InitialModelPath"/>: also start the auxiliary branches from that model (the second step of fine-tuning, after
    /// a <see cref="TeacherTrainingMode.FrozenBackbone"/> run trained them). Default false: the branches start fresh.
    /// </summary>
    public bool KeepInitialAuxiliaryBranches;

    /// <summary>
    /// PyTorch weights that start the teacher: a state dict saved with <c>torch.save</c> (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>,
    /// <c>.tar</c>, <c>.ckpt</c>; also training checkpoints holding it under <c>'state_dict'</c>, <c>'model'</c> or <c>'net'</c>) or a
    /// <c>.safetensors</c> file, in torchvision's layout (<c>resnet18</c>, <c>resnet34</c>, <c>resnet50_imagenet</c>, <c>mobilenetv2_imagenet</c>), HSAKD's (<c>*_aux</c> networks, with
    /// their auxiliary branches) or RepDistiller's (CIFAR <c>resnet*</c>, <c>wrn*</c>, <c>vgg*</c>). Default null: random initialisation.
    /// </summary>
    /// <remarks>
    /// Every tensor name and shape is checked before anything is copied; a file that does not fit fails with the missing,
    /// unexpected and mis-shaped tensors named. When the file's head has another class count (an ImageNet checkpoint for 10
    /// classes), the head is replaced and trained from scratch, every other backbone tensor is kept, and the auxiliary branches
    /// start fresh. The file's class order must be the label keys' order when the class counts match. Set
    /// <see cref="TrainingOptions.NormalizationMean"/> and <see cref="TrainingOptions.NormalizationStd"/> to the values the weights
    /// were trained with (ImageNet: mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225), since the default normalisation is computed
    /// from the training images. Cannot be combined with <see cref="InitialModelPath"/>.
    /// </remarks>
    public string? PretrainedWeightsPath;

    /// <summary>
    /// Factor of the learning rate for the parameters that start from given weights (<see cref="PretrainedWeightsPath"/> or
    /// <see cref="InitialModelPath"/>); a replaced head and fresh auxiliary branches train at the full rate. Default null: 0.1
    /// (<see cref="DefaultPretrainedLearningRateFactor"/>) with <see cref="PretrainedWeightsPath"/>, 1 with
    /// <see cref="InitialModelPath"/>. Must be positive.
    /// </summary>
    public double? PretrainedLearningRateFactor;
}
