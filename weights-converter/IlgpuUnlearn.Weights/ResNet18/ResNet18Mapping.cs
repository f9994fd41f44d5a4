namespace IlgpuUnlearn.Weights.ResNet18;

/// <summary>
/// Maps a loaded state dict onto the canonical CIFAR ResNet18. Accepts torchvision names (downsample, fc)
/// and kuangliu/pytorch-cifar names (shortcut, linear). Reports every missing, unexpected or wrongly shaped
/// tensor by name (with both shapes), and refuses an ImageNet-style ResNet18 (7x7 stem, 1000 classes). A state dict
/// without num_batches_tracked (saved before PyTorch 0.4.1, or by an exporter that drops int64 buffers) loads with those
/// counters at 0, as PyTorch's BatchNorm load_state_dict sets them, and they are written back.
/// </summary>
public static class ResNet18Mapping
{
    private const int MaximumReportedProblems = 12;

    /// <summary>Loads a .pth/.safetensors file and maps it (the usual entry point for the model).</summary>
    /// <remarks>The file is read into a pooled buffer and each tensor is converted to float32 from there: one copy.</remarks>
    public static ResNet18Weights Load(string path, int? width = null, int? numClasses = null) =>
        WeightsFile.LoadTransient(path, loaded => Map(loaded.Tensors, path, width, numClasses).WithNotes(loaded.Warnings));

    /// <summary>The torchvision name of a key in either naming style ("layer2.0.shortcut.1.bias" -> "layer2.0.downsample.1.bias").</summary>
    public static string CanonicalNameOf(string key)
    {
        string name = key.Replace(".shortcut.", ".downsample.", StringComparison.Ordinal);
        return name.StartsWith("linear.", StringComparison.Ordinal) ? "fc." + name["linear.".Length..] : name;
    }

    /// <summary>
    /// Maps <paramref name="tensors"/> onto the ResNet18 of the given width, classes and input channels; a null one is inferred from the
    /// file (<see cref="InferWidth"/>, <see cref="InferClasses"/>, <see cref="InferInputChannels"/>), and an error message says where each came from.
    /// </summary>
    /// <param name="sourceName">The file name, for error messages.</param>
    public static ResNet18Weights Map(StateDict tensors, string sourceName, int? width = null, int? numClasses = null,
        int? inputChannels = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        RefuseImageNetStyle(tensors, sourceName);
        (int chosenWidth, string widthText) = width is { } givenWidth ? (givenWidth, $"width {givenWidth}")
            : InferWidthFrom(tensors) is ({ } inferred, string from) ? (inferred, $"width {inferred} from {from}")
            : (ResNet18StateDictLayout.DefaultWidth, $"width {ResNet18StateDictLayout.DefaultWidth} assumed: no conv1.weight, bn1.weight or layer1.0.conv1.weight tells it");
        (int chosenClasses, string classesText) = numClasses is { } givenClasses ? (givenClasses, $"{givenClasses} classes")
            : InferClasses(tensors) is { } inferredClasses ? (inferredClasses, $"{inferredClasses} classes")
            : (ResNet18StateDictLayout.DefaultClasses, $"{ResNet18StateDictLayout.DefaultClasses} classes assumed: no fc.weight or linear.weight");
        (int channels, string channelsText) = (inputChannels ?? InferInputChannels(tensors)) is { } knownChannels
            ? (knownChannels, $"{knownChannels} input channel{(knownChannels == 1 ? "" : "s")}")
            : (ResNet18StateDictLayout.DefaultInputChannels, $"{ResNet18StateDictLayout.DefaultInputChannels} input channels assumed: no conv1.weight");
        return Map(tensors, sourceName, chosenWidth, chosenClasses, channels, $"{widthText}, {classesText}, {channelsText}");
    }

    private static ResNet18Weights Map(StateDict tensors, string sourceName, int width, int numClasses, int inputChannels, string modelText)
    {
        IReadOnlyList<ResNet18TensorSpec> layout = ResNet18StateDictLayout.Cifar(width, numClasses, inputChannels);
        var expectedByName = layout.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var found = new Dictionary<string, (string Key, StoredTensor Tensor)>(StringComparer.Ordinal);
        var problems = new List<string>();

        foreach ((string key, StoredTensor tensor) in tensors)
        {
            string canonical = CanonicalNameOf(key);
            if (!expectedByName.TryGetValue(canonical, out ResNet18TensorSpec? spec))
            {
                problems.Add($"unexpected tensor {key} {StoredTensor.ShapeText(tensor.Shape)}");
                continue;
            }
            if (found.TryGetValue(canonical, out var earlier))
            {
                problems.Add($"{key} and {earlier.Key} are the same tensor ({canonical})");
                continue;
            }
            found[canonical] = (key, tensor);
            if (!tensor.Shape.SequenceEqual(spec.Shape))
            {
                problems.Add($"{key} has shape {StoredTensor.ShapeText(tensor.Shape)} but the model expects {StoredTensor.ShapeText(spec.Shape)}");
            }
            else if (spec.DType == TensorDType.Float32 && !tensor.DType.IsFloatingPoint())
            {
                problems.Add($"{key} has dtype {tensor.DType.TorchName()}, expected a floating-point type");
            }
        }
        var notes = new List<string>();
        var zeroCounters = new List<string>();
        foreach (ResNet18TensorSpec spec in layout)
        {
            if (found.ContainsKey(spec.Name))
            {
                continue;
            }
            if (spec.Name.EndsWith(CounterSuffix, StringComparison.Ordinal))
            {
                zeroCounters.Add(spec.Name);
                continue;
            }
            problems.Add($"missing tensor {spec.Name} {StoredTensor.ShapeText(spec.Shape)}");
        }
        if (problems.Count > 0)
        {
            string shown = string.Join("; ", problems.Take(MaximumReportedProblems));
            string more = problems.Count > MaximumReportedProblems ? $"; and {problems.Count - MaximumReportedProblems} more" : "";
            throw new WeightsFormatException(sourceName,
                $"does not match the CIFAR ResNet18 ({modelText}): {shown}{more}");
        }
        if (zeroCounters.Count > 0)
        {
            notes.Add($"{zeroCounters.Count} BatchNorm num_batches_tracked counters are not in the file (saved before PyTorch 0.4.1, or exported without int64 buffers): " +
                "they start at 0, as PyTorch's load_state_dict sets them, and are written out");
        }

        bool pytorchCifarNames = tensors.Keys.Any(key => key.Contains(".shortcut.", StringComparison.Ordinal) || key.StartsWith("linear.", StringComparison.Ordinal));
        var mapped = layout.Select(spec =>
        {
            if (!found.TryGetValue(spec.Name, out var entry))
            {
                string key = pytorchCifarNames ? PyTorchCifarNameOf(spec.Name) : spec.Name;
                return new MappedTensor(spec.Name, spec.Shape, [0f], key, TensorDType.Int64);
            }
            return new MappedTensor(spec.Name, spec.Shape, entry.Tensor.ToFloat32(), entry.Key, entry.Tensor.DType);
        }).ToList();
        return new ResNet18Weights(width, numClasses, mapped).WithNotes(notes);
    }

    private const string CounterSuffix = ".num_batches_tracked";

    /// <summary>The kuangliu/pytorch-cifar name of a canonical key ("layer2.0.downsample.1.bias" -> "layer2.0.shortcut.1.bias").</summary>
    private static string PyTorchCifarNameOf(string canonical)
    {
        string name = canonical.Replace(".downsample.", ".shortcut.", StringComparison.Ordinal);
        return name.StartsWith("fc.", StringComparison.Ordinal) ? "linear." + name["fc.".Length..] : name;
    }

    /// <summary>
    /// The base width of a state dict's ResNet18: conv1's output channels, else bn1's channels, else layer1.0.conv1's
    /// output channels; null when none of them is there.
    /// </summary>
    public static int? InferWidth(StateDict tensors) => InferWidthFrom(tensors)?.Width;

    private static (int Width, string From)? InferWidthFrom(StateDict tensors)
    {
        foreach ((string name, int rank) in new[] { ("conv1.weight", 4), ("bn1.weight", 1), ("bn1.running_mean", 1), ("layer1.0.conv1.weight", 4) })
        {
            if (tensors.TryGetValue(name, out StoredTensor tensor) && tensor.Shape.Length == rank && tensor.Shape[0] > 0)
            {
                return (tensor.Shape[0], name);
            }
        }
        return null;
    }

    /// <summary>The image channels conv1 reads (1 for a grey-image network, 3 for RGB), or null if it has no 4-d conv1.weight.</summary>
    public static int? InferInputChannels(StateDict tensors) =>
        tensors.TryGetValue("conv1.weight", out StoredTensor conv1) && conv1.Shape.Length == 4 ? conv1.Shape[1] : null;

    /// <summary>The number of classes (rows of fc.weight or linear.weight), or null if there is none.</summary>
    public static int? InferClasses(StateDict tensors) =>
        (tensors.TryGetValue("fc.weight", out StoredTensor fc) || tensors.TryGetValue("linear.weight", out fc)) && fc.Shape.Length == 2
            ? fc.Shape[0]
            : null;

    private static void RefuseImageNetStyle(StateDict tensors, string sourceName)
    {
        bool sevenBySevenStem = tensors.TryGetValue("conv1.weight", out StoredTensor conv1) && conv1.Shape is [_, _, 7, 7];
        bool thousandClasses = InferClasses(tensors) == 1000;
        if (sevenBySevenStem || thousandClasses)
        {
            string evidence = string.Join(" and ", new[] { sevenBySevenStem ? "a 7x7 conv1 stem" : null, thousandClasses ? "1000 output classes" : null }.OfType<string>());
            throw new WeightsFormatException(sourceName,
                $"this is an ImageNet-style torchvision ResNet18 ({evidence}); the project needs the CIFAR ResNet18 (3x3 conv1 stride 1, no max-pool, a CIFAR-sized classifier: 10 classes for CIFAR-10)");
        }
    }
}
