using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Unlearning;

/// <summary>Evaluation-mode logits of a whole dataset (BatchNorm with running statistics, no augmentation).</summary>
public static class Predictor
{
    /// <summary>
    /// Labels and logits of every image of <paramref name="data"/>, one forward pass each, kept for every metric; with
    /// <paramref name="features"/>, also the same pass's pooled penultimate features (N, 8 x width; N x 2 KB at full width),
    /// for the linear probe.
    /// </summary>
    /// <param name="progress">Called after each batch with the number of images done so far and the total.</param>
    public static SampleOutputs Outputs(ResNet18 model, ImageDataset data, CancellationToken cancel = default, Action<int, int>? progress = null,
        bool features = false)
    {
        float[]? pooled = features ? new float[(long)data.Count * 8 * model.Config.Width] : null;
        var logits = Forward(model, data, pooled, cancel, progress);
        var labels = new int[data.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = data.Labels[i];
        return new SampleOutputs(labels, logits, model.Config.Classes, pooled, features ? 8 * model.Config.Width : 0);
    }

    /// <summary>Logits (N, classes) of every image, computed in batches of at most the model's batch size.</summary>
    /// <param name="progress">Called after each batch with the number of images done so far and the total.</param>
    public static float[] Logits(ResNet18 model, ImageDataset data, CancellationToken cancel = default, Action<int, int>? progress = null) =>
        Forward(model, data, null, cancel, progress);

    /// <summary>Logits of every image and, into <paramref name="pooled"/> (N, 8 x width) when given, the pooled features.</summary>
    static float[] Forward(ResNet18 model, ImageDataset data, float[]? pooled, CancellationToken cancel, Action<int, int>? progress)
    {
        int s = model.Config.ImageSize, channels = model.Config.InputChannels, classes = model.Config.Classes, batch = model.MaxBatch;
        if (data.Channels != channels || data.Height != s || data.Width != s)
            throw new ArgumentException($"{data.Name} holds {data.Channels}x{data.Height}x{data.Width} images; the model takes {channels}x{s}x{s}");
        var normalization = model.Config.Normalization;
        var ops = model.Ops;
        var logits = new float[(long)data.Count * classes];
        using var pixels = ops.Allocate<byte>((long)batch * data.ImageSize);
        for (int start = 0; start < data.Count; start += batch)
        {
            cancel.ThrowIfCancellationRequested();
            int n = Math.Min(batch, data.Count - start);
            long bytes = (long)n * data.ImageSize;
            ops.Upload(data.Pixels.Slice(start * data.ImageSize, (int)bytes), pixels.At(0, bytes));
            ops.LoadImages(n, s, s, pixels.At(0, bytes), null, 0, normalization.Mean, normalization.Std, model.Input.At(0, bytes));
            model.Forward(n, training: false, cancel);
            ops.Download(model.LogitsOf(n), logits.AsSpan(start * classes, n * classes));
            if (pooled is not null)
            {
                int d = 8 * model.Config.Width;
                ops.Download(model.PooledOf(n), pooled.AsSpan(start * d, n * d));
            }
            progress?.Invoke(start + n, data.Count);
        }
        return logits;
    }
}
