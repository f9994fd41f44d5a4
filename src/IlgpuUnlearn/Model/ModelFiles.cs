using IlgpuUnlearn.Weights;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Model;

/// <summary>
/// Model weights on disk (.pth or .safetensors, through the weights converter) to and from a <see cref="ResNet18"/>.
/// A model read from a file is written back with that file's key names and dtypes.
/// </summary>
public static class ModelFiles
{
    /// <summary>
    /// Reads a CIFAR ResNet18 of any width, class count and input channels (inferred from the file) under either naming style. What the
    /// file held besides the model (a checkpoint's optimizer state, skipped entries) and what was filled in (counters at 0)
    /// are in <see cref="ResNet18Weights.Notes"/>.
    /// </summary>
    public static ResNet18Weights Read(string path)
    {
        var loaded = WeightsFile.Load(path);
        var weights = ResNet18Mapping.Map(loaded.Tensors, path).WithNotes(loaded.Warnings);
        string? notFinite = FirstNonFinite(weights);
        if (notFinite is not null)
            throw new WeightsFormatException(path, $"{notFinite} holds NaN or infinite values; the model cannot be used");
        return weights;
    }

    /// <summary>The file key of the first tensor holding a NaN or infinite value, or null.</summary>
    static string? FirstNonFinite(ResNet18Weights weights) =>
        weights.Tensors.FirstOrDefault(t => !Array.TrueForAll(t.Values, float.IsFinite))?.SourceName;

    /// <summary>
    /// The model's weights exactly as <see cref="ResNet18Weights.Save"/> will write them with <paramref name="template"/>'s
    /// keys and dtypes (rounded to float16, bfloat16, ... where the file has them), loaded back into the model, so that what
    /// the model computes next (the report) is what the written file computes. <paramref name="template"/> is not changed.
    /// </summary>
    public static ResNet18Weights RoundToFile(ResNet18 model, ResNet18Weights template)
    {
        var written = template.WithValuesAsWritten(ModelState.Read(model));
        Load(model, written);
        return written;
    }

    /// <summary>
    /// Refuses a final model that must not be written: a NaN or infinite weight, or a NaN or infinite test loss (a loss
    /// over no images, NaN by definition, is allowed). Throws <see cref="Unlearning.NonFiniteLossException"/>, as the
    /// training steps' guard does, so a run stops without writing.
    /// </summary>
    public static void EnsureFinite(ResNet18Weights weights, Evaluation.UnlearningReport report)
    {
        string? notFinite = FirstNonFinite(weights);
        if (notFinite is not null)
            throw new Unlearning.NonFiniteLossException($"the final model's {notFinite} holds NaN or infinite values; stopping without writing a model (try a lower --lr or --alpha)");
        long forgetImages = report.ConfusionMatrix[report.ForgetClass].Sum();
        long retainImages = report.ConfusionMatrix.Sum(row => row.Sum()) - forgetImages;
        if ((forgetImages > 0 && !double.IsFinite(report.ForgetLoss)) || (retainImages > 0 && !double.IsFinite(report.RetainLoss)))
            throw new Unlearning.NonFiniteLossException($"the final model's test loss is not finite (forget {report.ForgetLoss}, retain {report.RetainLoss}); " +
                "stopping without writing a model (try a lower --lr or --alpha)");
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
