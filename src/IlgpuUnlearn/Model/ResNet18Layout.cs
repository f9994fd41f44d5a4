using IlgpuUnlearn.Data;
using IlgpuUnlearn.Weights;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Model;

/// <summary>
/// The shape of a CIFAR ResNet18: base width (64 in the card), input size (32, or 28 for native Fashion-MNIST), number of
/// classes (10) and image channels (3, or 1 for grey images: conv1.weight's second dimension), and the input
/// normalisation it was trained with (one mean and std per channel).
/// </summary>
public sealed record ResNet18Config(int Width = 64, int ImageSize = 32, int Classes = 10, int InputChannels = 3)
{
    public static ResNet18Config Cifar10 { get; } = new();

    /// <summary>How pixels become the network's input; CIFAR-10's values unless the checkpoint was trained otherwise.</summary>
    public InputNormalization Normalization { get; init; } = InputNormalization.Cifar10;

    public void Validate()
    {
        if (Width < 1) throw new ArgumentException($"width must be at least 1, got {Width}");
        if (Classes < 2) throw new ArgumentException($"classes must be at least 2, got {Classes}");
        if (InputChannels < 1) throw new ArgumentException($"input channels must be at least 1, got {InputChannels}");
        // Three stride-2 stages, each (s - 1) / 2 + 1 as PyTorch's conv arithmetic gives (28 -> 14 -> 7 -> 4).
        if (ImageSize < 8) throw new ArgumentException($"image size must be at least 8, got {ImageSize}");
        if (Normalization.Channels != InputChannels)
            throw new ArgumentException($"normalisation {Normalization.Name} has {Normalization.Channels} channel(s), the network reads {InputChannels}");
    }

    /// <summary>Side of the activations after a stage of stride <paramref name="stride"/> (3x3 pad 1 or 1x1 pad 0): (s - 1) / stride + 1.</summary>
    public static int StageSize(int size, int stride) => (size - 1) / stride + 1;
}

/// <summary>What a state-dict tensor is to the model.</summary>
public enum TensorRole
{
    /// <summary>Trainable: conv and fc weights, fc bias, BatchNorm weight and bias. Lives in the flat parameter buffer.</summary>
    Parameter,
    /// <summary>BatchNorm running_mean / running_var: updated by training-mode forwards, never by gradients.</summary>
    RunningStat,
    /// <summary>BatchNorm num_batches_tracked (int64 in PyTorch): counted on the host.</summary>
    BatchesTracked,
}

/// <summary>One state-dict tensor: its torchvision name, shape, role and offset in the flat buffer of its role.</summary>
public sealed record TensorSpec(string Name, int[] Shape, TensorRole Role, long Offset)
{
    public long Length => Shape.Aggregate(1L, (a, d) => a * d);
    public override string ToString() => $"{Name} ({string.Join('x', Shape)})";
}

/// <summary>
/// Every tensor of the torchvision CIFAR ResNet18 state dict, in state-dict order, with its place in one of two flat
/// buffers: trainable parameters (and, at the same offsets, their gradients and momentum) and BatchNorm running statistics.
/// </summary>
public sealed class ResNet18Layout
{
    readonly Dictionary<string, TensorSpec> byName = new(StringComparer.Ordinal);

    public ResNet18Layout(ResNet18Config config)
    {
        config.Validate();
        Config = config;
        var tensors = new List<TensorSpec>();
        long parameters = 0, stats = 0;
        // The names, shapes and order are the converter's (torchvision's state dict); the roles and offsets are the model's.
        foreach (var key in ResNet18StateDictLayout.Cifar(config.Width, config.Classes, config.InputChannels))
        {
            var role = key.IsTrainable ? TensorRole.Parameter
                : key.DType == TensorDType.Int64 ? TensorRole.BatchesTracked : TensorRole.RunningStat;
            var spec = new TensorSpec(key.Name, key.Shape, role, role == TensorRole.Parameter ? parameters : role == TensorRole.RunningStat ? stats : 0);
            if (role == TensorRole.Parameter) parameters += spec.Length;
            else if (role == TensorRole.RunningStat) stats += spec.Length;
            tensors.Add(spec);
        }
        Tensors = tensors;
        ParameterCount = parameters;
        RunningStatCount = stats;
        foreach (var t in tensors) byName.Add(t.Name, t);
    }

    /// <summary>The first block of layers 2-4 halves the resolution and doubles the width, so its shortcut is a 1x1 conv + BN.</summary>
    public static bool HasDownsample(int layer, int block) => layer > 1 && block == 0;

    public ResNet18Config Config { get; }
    public IReadOnlyList<TensorSpec> Tensors { get; }
    /// <summary>Trainable values: 11,173,962 for the CIFAR-10 ResNet18 of width 64.</summary>
    public long ParameterCount { get; }
    public long RunningStatCount { get; }
    public int BatchNormCount => Tensors.Count(t => t.Role == TensorRole.BatchesTracked);

    public TensorSpec this[string name] =>
        byName.TryGetValue(name, out var spec) ? spec : throw new KeyNotFoundException($"the ResNet18 has no tensor named '{name}'");

    public bool Contains(string name) => byName.ContainsKey(name);
}
