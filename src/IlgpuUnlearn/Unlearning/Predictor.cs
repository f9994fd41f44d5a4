using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Unlearning;

/// <summary>Evaluation-mode logits of a whole dataset (BatchNorm with running statistics, no augmentation).</summary>
public static class Predictor
{
    /// <summary>Labels and logits of every image of <paramref name="data"/>, one forward pass each, kept for every metric.</summary>
    public static SampleOutputs Outputs(ResNet18 model, ImageDataset data, CancellationToken cancel = default)
    {
        var logits = Logits(model, data, cancel);
        var labels = new int[data.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = data.Labels[i];
        return new SampleOutputs(labels, logits, model.Config.Classes);
    }

    /// <summary>Logits (N, classes) of every image, computed in batches of at most the model's batch size.</summary>
    public static float[] Logits(ResNet18 model, ImageDataset data, CancellationToken cancel = default)
    {
        int s = model.Config.ImageSize, classes = model.Config.Classes, batch = model.MaxBatch;
        if (data.Channels != 3 || data.Height != s || data.Width != s)
            throw new ArgumentException($"{data.Name} holds {data.Channels}x{data.Height}x{data.Width} images; the model takes 3x{s}x{s}");
        var ops = model.Ops;
        var logits = new float[(long)data.Count * classes];
        using var pixels = ops.Allocate<byte>((long)batch * data.ImageSize);
        for (int start = 0; start < data.Count; start += batch)
        {
            cancel.ThrowIfCancellationRequested();
            int n = Math.Min(batch, data.Count - start);
            long bytes = (long)n * data.ImageSize;
            ops.Upload(data.Pixels.Slice(start * data.ImageSize, (int)bytes), pixels.At(0, bytes));
            ops.LoadImages(n, s, s, pixels.At(0, bytes), null, 0, TrainingStep.Mean, TrainingStep.Std, model.Input.At(0, bytes));
            model.Forward(n, training: false);
            ops.Download(model.LogitsOf(n), logits.AsSpan(start * classes, n * classes));
        }
        return logits;
    }
}
