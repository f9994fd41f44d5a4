using IlgpuUnlearn.Weights;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Model;

/// <summary>
/// Model weights on disk (.pth or .safetensors, through the weights converter) to and from a <see cref="ResNet18"/>.
/// A model read from a file is written back with that file's key names and dtypes.
/// </summary>
public static class ModelFiles
{
    /// <summary>Reads a CIFAR ResNet18 of any width, class count and input channels (inferred from the file) under either naming style.</summary>
    public static ResNet18Weights Read(string path)
    {
        var loaded = WeightsFile.Load(path);
        int width = ResNet18Mapping.InferWidth(loaded.Tensors) ?? ResNet18StateDictLayout.DefaultWidth;
        int classes = ResNet18Mapping.InferClasses(loaded.Tensors) ?? ResNet18StateDictLayout.DefaultClasses;
        int channels = ResNet18Mapping.InferInputChannels(loaded.Tensors) ?? ResNet18StateDictLayout.DefaultInputChannels;
        var weights = ResNet18Mapping.Map(loaded.Tensors, path, width, classes, channels);
        foreach (var t in weights.Tensors)
            if (!Array.TrueForAll(t.Values, float.IsFinite))
                throw new WeightsFormatException(path, $"{t.SourceName} holds NaN or infinite values; the model cannot be used");
        return weights;
    }

    /// <summary>The network of <paramref name="weights"/> (width, classes and input channels read from its tensors) on images of <paramref name="imageSize"/>.</summary>
    public static ResNet18Config ConfigOf(ResNet18Weights weights, int imageSize = 32) =>
        new(weights.Width, imageSize, weights.NumClasses, weights.InputChannels);

    public static void Load(ResNet18 model, ResNet18Weights weights) =>
        ModelState.Load(model, weights.Tensors.ToDictionary(t => t.CanonicalName, t => t.Values));

    /// <summary>Writes the model with the key names and dtypes of <paramref name="template"/> (the file it was read from), atomically.</summary>
    public static void Save(ResNet18 model, ResNet18Weights template, string path)
    {
        foreach (var (name, values) in ModelState.Read(model)) template.SetValues(name, values);
        template.Save(path);
    }

    /// <summary>The model's weights under torchvision names (float32, int64 counters), for a model that came from no file.</summary>
    public static ResNet18Weights Canonical(ResNet18 model)
    {
        var state = new StateDict();
        foreach (var (name, values) in ModelState.Read(model))
        {
            var spec = model.Layout[name];
            state.Set(name, spec.Role == TensorRole.BatchesTracked
                ? StoredTensor.FromInt64(TensorDType.Int64, [], [(long)values[0]])
                : StoredTensor.FromFloat32(TensorDType.Float32, spec.Shape, values));
        }
        return ResNet18Mapping.Map(state, "model", model.Config.Width, model.Config.Classes, model.Config.InputChannels);
    }
}
