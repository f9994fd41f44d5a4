using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>
/// What a model computes below its logits, read out of evaluation-mode forward passes (BatchNorm with running statistics,
/// no augmentation, the model's input normalisation), in batches of at most the model's batch size. The forward pass is
/// <see cref="ResNet18.Forward"/>'s own; nothing of the training path changes.
/// </summary>
public static class ModelFeatures
{
    /// <summary>
    /// The pooled penultimate features (N, 8 x width; 512 at full width), the fc layer's input, of every image of
    /// <paramref name="data"/>, row per image in dataset order. Memory: N x 8w floats (CIFAR-10's 50,000 training images at
    /// width 64: 102 MB).
    /// </summary>
    /// <exception cref="ArgumentException">Images of another shape than the model takes.</exception>
    public static float[] Penultimate(ResNet18 model, ImageDataset data, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        int d = 8 * model.Config.Width;
        var features = new float[(long)data.Count * d];
        var all = Enumerable.Range(0, data.Count).ToArray();
        ForEachBatch(model, data, all, null, (offset, n) =>
            model.Ops.Download(model.PooledOf(n), features.AsSpan(offset * d, n * d)), cancel);
        return features;
    }

    /// <summary>
    /// Every stage's output (<see cref="ResNet18.StageNames"/>) of the images <paramref name="indices"/> of
    /// <paramref name="data"/>, in that order: one array per stage, (indices.Length, <see cref="ResNet18.StageFeatureCount"/>)
    /// row per image, each row the stage's (C, H, W) output flattened as PyTorch's flatten(1) does.
    /// Memory: indices.Length x the sum of the stage sizes floats; per image 311,306 floats (1.25 MB) for the full-width
    /// CIFAR network (conv1 and layer1 64x32x32 each, layer2 128x16x16, layer3 256x8x8, layer4 512x4x4, fc 10), 242,186
    /// (0.97 MB) for the grey 28x28 one; so 1.25 GB for the Comparator's CKA minibatch of 1,000 CIFAR images.
    /// </summary>
    /// <exception cref="ArgumentException">Images of another shape than the model takes, or an index outside the data.</exception>
    public static float[][] Stages(ResNet18 model, ImageDataset data, int[] indices, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(indices);
        int stages = ResNet18.StageNames.Count;
        var sizes = Enumerable.Range(0, stages).Select(model.StageFeatureCount).ToArray();
        var features = sizes.Select(p => new float[checked(indices.Length * p)]).ToArray();
        int batchOffset = 0;
        ForEachBatch(model, data, indices,
            (stage, slice) => model.Ops.Download(slice, features[stage].AsSpan((int)(batchOffset * sizes[stage]), (int)slice.Length)),
            afterForward: null, cancel, beforeForward: offset => batchOffset = offset);
        return features;
    }

    /// <summary>
    /// Evaluation forwards of the images <paramref name="indices"/> in batches of at most the model's batch size; after each
    /// forward <paramref name="afterForward"/>(offset of the batch within indices, n). With <paramref name="stages"/>, the
    /// forward hands out each stage's output as <see cref="ResNet18.ForwardReadingStages"/> does.
    /// </summary>
    static void ForEachBatch(ResNet18 model, ImageDataset data, int[] indices, Action<int, Tensors.Slice<float>>? stages,
        Action<int, int>? afterForward, CancellationToken cancel, Action<int>? beforeForward = null)
    {
        int s = model.Config.ImageSize, batch = model.MaxBatch;
        if (data.Channels != model.Config.InputChannels || data.Height != s || data.Width != s)
            throw new ArgumentException($"{data.Name} holds {data.Channels}x{data.Height}x{data.Width} images; the model takes {model.Config.InputChannels}x{s}x{s}");
        foreach (int i in indices)
            if ((uint)i >= (uint)data.Count) throw new ArgumentException($"image {i} is not one of the {data.Count} of {data.Name}");
        var ops = model.Ops;
        var normalization = model.Config.Normalization;
        var host = new byte[(long)Math.Min(batch, Math.Max(1, indices.Length)) * data.ImageSize];
        using var pixels = ops.Allocate<byte>(host.Length);
        for (int start = 0; start < indices.Length; start += batch)
        {
            cancel.ThrowIfCancellationRequested();
            int n = Math.Min(batch, indices.Length - start);
            long bytes = (long)n * data.ImageSize;
            data.GatherImages(indices.AsSpan(start, n), host);
            ops.Upload<byte>(host.AsSpan(0, (int)bytes), pixels.At(0, bytes));
            ops.LoadImages(n, s, s, pixels.At(0, bytes), null, 0, normalization.Mean, normalization.Std, model.Input.At(0, (long)n * model.Config.InputChannels * s * s));
            beforeForward?.Invoke(start);
            if (stages is null) model.Forward(n, training: false, cancel);
            else model.ForwardReadingStages(n, stages, cancel);
            afterForward?.Invoke(start, n);
        }
    }
}
