namespace IlgpuUnlearn.Weights.ResNet18;

/// <summary>One tensor of the canonical (torchvision-named) CIFAR ResNet18 state dict.</summary>
/// <param name="Name">The torchvision key, e.g. "layer2.0.downsample.0.weight".</param>
/// <param name="Shape">Its shape; empty for num_batches_tracked.</param>
/// <param name="DType">Float32, or Int64 for num_batches_tracked.</param>
/// <param name="IsTrainable">True for conv/fc weights, fc bias and BatchNorm weight/bias; false for running statistics and counters.</param>
public sealed record ResNet18TensorSpec(string Name, int[] Shape, TensorDType DType, bool IsTrainable);

/// <summary>
/// The state-dict layout of the project's ResNet18: torchvision's ResNet18 with a CIFAR stem (3x3 conv1,
/// stride 1, no max-pool), stage widths W, 2W, 4W, 8W and an fc layer to the classes. W = 64 and 10
/// classes is the real model (11,173,962 parameters); tests use narrow ones.
/// </summary>
public static class ResNet18StateDictLayout
{
    public const int DefaultWidth = 64;
    public const int DefaultClasses = 10;
    /// <summary>RGB input, as CIFAR-10; a 1-channel network (Fashion-MNIST, grey) has conv1.weight (W, 1, 3, 3).</summary>
    public const int DefaultInputChannels = 3;
    private const int BlocksPerStage = 2;
    private const int Stages = 4;

    /// <summary>Every tensor in torchvision's state-dict order; conv1 reads <paramref name="inputChannels"/> image channels.</summary>
    public static IReadOnlyList<ResNet18TensorSpec> Cifar(int width = DefaultWidth, int numClasses = DefaultClasses,
        int inputChannels = DefaultInputChannels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numClasses, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputChannels, 1);
        var specs = new List<ResNet18TensorSpec>();
        AddConvolution(specs, "conv1", width, inputChannels, 3);
        AddBatchNorm(specs, "bn1", width);
        int inputs = width;
        for (int stage = 1; stage <= Stages; stage++)
        {
            int planes = width << (stage - 1);
            for (int block = 0; block < BlocksPerStage; block++)
            {
                string prefix = $"layer{stage}.{block}";
                AddConvolution(specs, $"{prefix}.conv1", planes, inputs, 3);
                AddBatchNorm(specs, $"{prefix}.bn1", planes);
                AddConvolution(specs, $"{prefix}.conv2", planes, planes, 3);
                AddBatchNorm(specs, $"{prefix}.bn2", planes);
                if (block == 0 && stage > 1)
                {
                    AddConvolution(specs, $"{prefix}.downsample.0", planes, inputs, 1);
                    AddBatchNorm(specs, $"{prefix}.downsample.1", planes);
                }
                inputs = planes;
            }
        }
        specs.Add(new("fc.weight", [numClasses, inputs], TensorDType.Float32, true));
        specs.Add(new("fc.bias", [numClasses], TensorDType.Float32, true));
        return specs;
    }

    /// <summary>The number of trainable parameters (11,173,962 for width 64 and 10 classes).</summary>
    public static long ParameterCount(int width = DefaultWidth, int numClasses = DefaultClasses) =>
        Cifar(width, numClasses).Where(s => s.IsTrainable).Sum(s => StoredTensor.ElementCountOf(s.Shape));

    private static void AddConvolution(List<ResNet18TensorSpec> specs, string name, int outputs, int inputs, int kernel) =>
        specs.Add(new($"{name}.weight", [outputs, inputs, kernel, kernel], TensorDType.Float32, true));

    private static void AddBatchNorm(List<ResNet18TensorSpec> specs, string name, int channels)
    {
        specs.Add(new($"{name}.weight", [channels], TensorDType.Float32, true));
        specs.Add(new($"{name}.bias", [channels], TensorDType.Float32, true));
        specs.Add(new($"{name}.running_mean", [channels], TensorDType.Float32, false));
        specs.Add(new($"{name}.running_var", [channels], TensorDType.Float32, false));
        specs.Add(new($"{name}.num_batches_tracked", [], TensorDType.Int64, false));
    }
}
