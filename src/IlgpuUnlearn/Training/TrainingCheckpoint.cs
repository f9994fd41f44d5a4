using System.Text;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Weights;
using IlgpuUnlearn.Weights.Safetensors;

namespace IlgpuUnlearn.Training;

/// <summary>
/// Everything a training run needs to continue bit for bit after <see cref="EpochsDone"/> epochs: the model's state dict
/// (parameters, BatchNorm running statistics, num_batches_tracked), the SGD momentum buffer (flat, the layout's parameter
/// order) and the number of steps taken (the first step initialises momentum), the recipe, and the log so far. The data
/// order and augmentation of epoch e depend only on (seed, e) (<see cref="Data.EpochBatches"/>), so the epoch count is the
/// random state. Stored as safetensors (readable by PyTorch's safetensors): "model.&lt;name&gt;", "optimizer.momentum_buffer",
/// "trainer.progress" (epochs done, steps, training images, width, image size, classes) and "trainer.recipe",
/// "trainer.log" (UTF-8 text as uint8).
/// </summary>
public sealed record TrainingCheckpoint(
    string Recipe, int EpochsDone, long Steps, int TrainingImages, ResNet18Config Config,
    IReadOnlyDictionary<string, float[]> State, float[] Momentum, IReadOnlyList<EpochRecord> History)
{
    /// <summary>Writes the checkpoint whole or not at all (<see cref="AtomicFile"/>).</summary>
    public void Save(string path)
    {
        var tensors = new StateDict();
        foreach (var (name, values) in State)
        {
            tensors.Set("model." + name, name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
                ? StoredTensor.FromInt64(TensorDType.Int64, [], [(long)values[0]])
                : StoredTensor.FromFloat32(TensorDType.Float32, [values.Length], values));
        }
        tensors.Set("optimizer.momentum_buffer", StoredTensor.FromFloat32(TensorDType.Float32, [Momentum.Length], Momentum));
        long[] progress = [EpochsDone, Steps, TrainingImages, Config.Width, Config.ImageSize, Config.Classes];
        tensors.Set("trainer.progress", StoredTensor.FromInt64(TensorDType.Int64, [progress.Length], progress));
        tensors.Set("trainer.recipe", Text(Recipe));
        tensors.Set("trainer.log", Text(string.Join("\n", History.Select(h => h.ToJsonLine()))));
        using var buffer = new MemoryStream();
        SafetensorsWriter.Write(buffer, tensors);
        AtomicFile.WriteAllBytes(path, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>Reads a checkpoint; a file that is not one (or is damaged) is an InvalidDataException naming it.</summary>
    public static TrainingCheckpoint Load(string path)
    {
        StateDict tensors;
        using (var stream = File.OpenRead(path)) tensors = SafetensorsReader.Read(stream, path);
        StoredTensor Get(string name) => tensors.TryGetValue(name, out var t) ? t
            : throw new InvalidDataException($"{path}: not a training checkpoint (no '{name}')");
        var progress = Get("trainer.progress").ToInt64();
        if (progress.Length != 6 || progress.Any(v => v < 0 || v > int.MaxValue))
            throw new InvalidDataException($"{path}: trainer.progress holds {progress.Length} values, not 6 counts");
        var state = new Dictionary<string, float[]>();
        foreach (var (name, tensor) in tensors)
            if (name.StartsWith("model.", StringComparison.Ordinal))
                state[name["model.".Length..]] = tensor.DType == TensorDType.Int64 ? tensor.ToInt64().Select(v => (float)v).ToArray() : tensor.ToFloat32();
        // The input channels are conv1's (width, channels, 3, 3); the normalisation is the one `train` uses for them.
        int width = (int)progress[3];
        if (width < 1 || !state.TryGetValue("conv1.weight", out var conv1) || conv1.Length == 0 || conv1.Length % (9L * width) != 0)
            throw new InvalidDataException($"{path}: model.conv1.weight is missing or not (width {width}, channels, 3, 3)");
        int channels = conv1.Length / (9 * width);
        var config = new ResNet18Config(width, (int)progress[4], (int)progress[5], channels) { Normalization = InputNormalization.DefaultFor(channels) };
        string log = Encoding.UTF8.GetString(Get("trainer.log").Bytes);
        var history = log.Length == 0 ? [] : log.Split('\n').Select(EpochRecord.FromJsonLine).ToList();
        return new TrainingCheckpoint(Encoding.UTF8.GetString(Get("trainer.recipe").Bytes), (int)progress[0], progress[1], (int)progress[2],
            config, state, Get("optimizer.momentum_buffer").ToFloat32(), history);
    }

    static StoredTensor Text(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return new StoredTensor(TensorDType.UInt8, [bytes.Length], bytes);
    }
}
