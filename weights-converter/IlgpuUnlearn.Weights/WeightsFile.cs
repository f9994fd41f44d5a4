using System.Buffers;
using IlgpuUnlearn.Weights.Safetensors;
using IlgpuUnlearn.Weights.Torch;

namespace IlgpuUnlearn.Weights;

/// <summary>
/// Loading and saving state dicts in any supported format: the entry point the rest of the project uses.
/// Every problem with a file is a <see cref="WeightsFormatException"/> that names the file.
/// </summary>
public static class WeightsFile
{
    /// <summary>Loads the state dict of a .pth/.pt (zip or legacy) or .safetensors file; the format is found from the content.</summary>
    public static LoadedWeights Load(string path)
    {
        using FileStream stream = FileBytes.OpenRead(path);
        return Load(stream, path);
    }

    /// <summary>
    /// Loads a file and hands its state dict to <paramref name="use"/>, whose result is returned. The tensors are
    /// only valid during the call: a torch zip file is read into a pooled buffer that is reused afterwards, so
    /// <paramref name="use"/> must copy what it keeps (as <see cref="ResNet18.ResNet18Mapping"/> does, to float32).
    /// </summary>
    internal static T LoadTransient<T>(string path, Func<LoadedWeights, T> use)
    {
        using FileStream stream = FileBytes.OpenRead(path);
        if (DetectFormat(stream, path) != WeightsFileFormat.TorchZip)
        {
            return use(Load(stream, path));
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(TorchZipReader.CheckedLength(stream, path));
        try
        {
            object? root = TorchZipReader.ReadObject(stream, path, buffer);
            return use(new LoadedWeights(StateDictExtractor.Extract(root, path), WeightsFileFormat.TorchZip));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Loads a state dict from bytes in memory; <paramref name="sourceName"/> names them in errors.</summary>
    public static LoadedWeights Load(byte[] content, string sourceName)
    {
        using var stream = new MemoryStream(content, 0, content.Length, writable: false, publiclyVisible: true);
        return Load(stream, sourceName);
    }

    /// <summary>Loads a state dict from a seekable stream.</summary>
    public static LoadedWeights Load(Stream stream, string sourceName)
    {
        WeightsFileFormat format = DetectFormat(stream, sourceName);
        if (format == WeightsFileFormat.Safetensors)
        {
            return new LoadedWeights(SafetensorsReader.Read(stream, sourceName), format);
        }
        object? root = format == WeightsFileFormat.TorchZip
            ? TorchZipReader.ReadObject(stream, sourceName)
            : TorchLegacyReader.ReadObject(ReadRest(stream, sourceName), sourceName);
        return new LoadedWeights(StateDictExtractor.Extract(root, sourceName), format);
    }

    /// <summary>Finds the format from the first bytes; the stream is left at its start.</summary>
    public static WeightsFileFormat DetectFormat(Stream stream, string sourceName)
    {
        Span<byte> start = stackalloc byte[TorchLegacyReader.DetectionLength];
        stream.Position = 0;
        int read = stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        start = start[..read];
        if (read >= 4 && start[0] == (byte)'P' && start[1] == (byte)'K' && start[2] is 3 or 5 && start[3] is 4 or 6)
        {
            return WeightsFileFormat.TorchZip;
        }
        if (TorchLegacyReader.LooksLikeLegacy(start))
        {
            return WeightsFileFormat.TorchLegacy;
        }
        if (SafetensorsReader.LooksLikeSafetensors(start))
        {
            return WeightsFileFormat.Safetensors;
        }
        if (read == 0)
        {
            throw new WeightsFormatException(sourceName, "the file is empty");
        }
        throw new WeightsFormatException(sourceName,
            $"unknown format (first bytes {Convert.ToHexString(start[..Math.Min(read, 8)])}): not a torch.save zip or legacy file (of any pickle protocol), nor safetensors");
    }

    /// <summary>The format a file name asks for: .pth/.pt are torch zip, .safetensors is safetensors.</summary>
    public static WeightsFileFormat FormatFromExtension(string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".pth" or ".pt" => WeightsFileFormat.TorchZip,
            ".safetensors" => WeightsFileFormat.Safetensors,
            _ => throw new WeightsFormatException(path, $"unknown extension '{extension}': use .pth, .pt or .safetensors"),
        };
    }

    /// <summary>
    /// Writes a bare state dict, atomically (a temporary file in the same folder, renamed at the end), in
    /// the format the extension names unless one is given. Torch files are written in the zip format.
    /// </summary>
    public static void Save(string path, StateDict tensors, WeightsFileFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        WeightsFileFormat chosen = format ?? FormatFromExtension(path);
        switch (chosen)
        {
            case WeightsFileFormat.TorchZip:
                string archiveName = TorchZipWriter.ArchiveNameFor(path);
                AtomicFile.Write(path, stream => TorchZipWriter.Write(stream, tensors, archiveName));
                break;
            case WeightsFileFormat.Safetensors:
                AtomicFile.Write(path, stream => SafetensorsWriter.Write(stream, tensors));
                break;
            default:
                throw new WeightsFormatException(path, $"writing the {chosen} format is not supported");
        }
    }

    private static byte[] ReadRest(Stream stream, string sourceName)
    {
        if (stream.Length > FileBytes.MaximumLength)
        {
            throw new WeightsFormatException(sourceName, "the file is too large for the legacy reader");
        }
        if (stream is MemoryStream memory && memory.TryGetBuffer(out ArraySegment<byte> segment) && segment.Offset == 0 && segment.Count == memory.Length)
        {
            return segment.Array!;
        }
        var bytes = new byte[stream.Length];
        stream.Position = 0;
        stream.ReadExactly(bytes);
        return bytes;
    }
}
