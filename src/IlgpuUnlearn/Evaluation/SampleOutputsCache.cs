using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// Per-sample outputs of a model on both splits, kept on disk so that the base and retrained models are forwarded once,
/// not by every run and every class. Keyed by SHA-256 over: the model file's SHA-256, the network's shape, the input
/// normalisation, the device's name (CUDA and CPU outputs differ in the last bits), and every image and label of both
/// splits. One file per key ("&lt;key&gt;.outputs" in the folder): a header (magic, version, classes, the two counts, the
/// feature width d, int32 each), then per split, training first, labels (int32), logits (float32) and, when d &gt; 0, the
/// pooled penultimate features (N, d float32: the linear probe's input, 143 MB per model for the whole Fashion-MNIST at
/// full width), and a SHA-256 of all that at the end. Files of version 1 (no features) have another key and, read under
/// this one, another version: they are never read. Written atomically (<see cref="AtomicFile"/>), so
/// concurrent runs only ever see whole files (two writers of one key write the same bytes; the last rename wins), and a
/// cut write leaves no file; a file that does not check out is ignored (and replaced by the next write).
/// </summary>
public sealed class SampleOutputsCache(string folder)
{
    const int Magic = 0x4F535549; // "IUSO" little-endian
    const int Version = 2;
    const int HeaderBytes = 24;
    static readonly ConditionalWeakTable<DatasetSplit, byte[]> DataHashes = [];

    public string Folder { get; } = folder;

    /// <summary>$XDG_CACHE_HOME/ilgpu-unlearn/outputs (or ~/.cache/ilgpu-unlearn/outputs).</summary>
    public static string DefaultFolder() => Path.Combine(Download.DownloadCache.DefaultFolder(), "outputs");

    /// <summary>The key (64 hex digits) of <paramref name="modelSha256"/>'s outputs on <paramref name="data"/>.</summary>
    public static string Key(string modelSha256, ResNet18Config config, string device, DatasetSplit data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var n = config.Normalization;
        static string Floats(float[] values) => string.Join(' ', values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        string head = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"ilgpu-unlearn sample outputs v{Version}\nmodel {modelSha256}\nnetwork {config.Width} {config.ImageSize} {config.Classes} {config.InputChannels}\n" +
            $"mean {Floats(n.Mean)}\nstd {Floats(n.Std)}\ndevice {device}\n");
        hash.AppendData(Encoding.UTF8.GetBytes(head));
        hash.AppendData(DataHashes.GetValue(data, HashData));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>SHA-256 of both splits' shapes, images and labels (computed once per loaded data set).</summary>
    static byte[] HashData(DatasetSplit data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var split in new[] { data.Train, data.Test })
        {
            hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{split.Count} {split.ImageSize}\n")));
            hash.AppendData(split.Pixels);
            hash.AppendData(split.Labels);
        }
        return hash.GetHashAndReset();
    }

    public string PathFor(string key) => Path.Combine(Folder, key + ".outputs");

    /// <summary>
    /// The outputs kept under <paramref name="key"/>, or null when there are none (or the file does not check out, or
    /// <paramref name="features"/> asks for the pooled features and the file has none). Without <paramref name="features"/>
    /// a file's features are not read.
    /// </summary>
    public (SampleOutputs Train, SampleOutputs Test)? TryRead(string key, bool features = false)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(PathFor(key)); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        if (bytes.Length < HeaderBytes + 32) return null;
        var body = new ReadOnlyMemory<byte>(bytes, 0, bytes.Length - 32).Span;
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32))) return null;
        int magic = BinaryPrimitives.ReadInt32LittleEndian(body), version = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
        int classes = BinaryPrimitives.ReadInt32LittleEndian(body[8..]);
        int trainCount = BinaryPrimitives.ReadInt32LittleEndian(body[12..]), testCount = BinaryPrimitives.ReadInt32LittleEndian(body[16..]);
        int d = BinaryPrimitives.ReadInt32LittleEndian(body[20..]);
        if (magic != Magic || version != Version || classes < 1 || trainCount < 0 || testCount < 0 || d < 0
            || body.Length != HeaderBytes + 4L * (trainCount + testCount) * (1 + classes + d)) return null;
        if (features && d == 0) return null;
        int offset = HeaderBytes;
        SampleOutputs Split(int count)
        {
            var labels = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(offset, 4 * count)).ToArray();
            offset += 4 * count;
            var logits = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset, 4 * count * classes)).ToArray();
            offset += 4 * count * classes;
            var pooled = features ? MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset, 4 * count * d)).ToArray() : null;
            offset += 4 * count * d;
            return new SampleOutputs(labels, logits, classes, pooled, features ? d : 0);
        }
        try { return (Split(trainCount), Split(testCount)); }
        catch (ArgumentException) { return null; }
    }

    /// <summary>
    /// Keeps the outputs under <paramref name="key"/> (atomically; an existing file is replaced), with the pooled features
    /// when both splits carry them.
    /// </summary>
    /// <exception cref="ArgumentException">Splits of different class counts or feature widths.</exception>
    public void Write(string key, SampleOutputs train, SampleOutputs test)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        if (!BitConverter.IsLittleEndian) return; // the file is little-endian; nothing is kept elsewhere
        int classes = train.ClassCount;
        int d = train.HasFeatures && test.HasFeatures ? train.FeatureWidth : 0;
        if (test.ClassCount != classes || (d > 0 && test.FeatureWidth != d))
            throw new ArgumentException($"training outputs of {classes} classes and width {train.FeatureWidth}, test outputs of {test.ClassCount} and {test.FeatureWidth}");
        long length = HeaderBytes + 4L * (train.Count + test.Count) * (1 + classes + d) + 32;
        var bytes = new byte[length];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], classes);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], train.Count);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], test.Count);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], d);
        int offset = HeaderBytes;
        foreach (var split in new[] { train, test })
        {
            MemoryMarshal.AsBytes(split.Labels).CopyTo(span[offset..]);
            offset += 4 * split.Count;
            MemoryMarshal.AsBytes(split.AllLogits).CopyTo(span[offset..]);
            offset += 4 * split.Count * classes;
            if (d == 0) continue;
            MemoryMarshal.AsBytes(split.Features).CopyTo(span[offset..]);
            offset += 4 * split.Count * d;
        }
        SHA256.HashData(span[..offset], span[offset..]);
        AtomicFile.WriteAllBytes(PathFor(key), bytes);
    }
}
