using System.Buffers.Binary;
using System.Numerics;
using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// Reads a torch.save file in the legacy (pre-1.6, _use_new_zipfile_serialization=False) format: five pickles
/// (magic number, protocol version 1001, system info, the object, the sorted storage keys) and then, per key,
/// an int64 element count and the storage's raw bytes. The pickles may be of any protocol (torch.save's
/// pickle_protocol; 2 by default, 1-5 in use: protocol 0 cannot hold torch's persistent ids).
/// </summary>
public static class TorchLegacyReader
{
    /// <summary>The magic number torch writes first.</summary>
    public static readonly BigInteger MagicNumber = BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture);

    private const long ProtocolVersion = 1001;

    /// <summary>How many of the first bytes <see cref="LooksLikeLegacy"/> needs: the magic number's pickle at any protocol is shorter.</summary>
    public const int DetectionLength = 64;

    /// <summary>
    /// True when the bytes start like a legacy .pth file, told by content: the first pickle, of whatever protocol
    /// (PROTO/FRAME for 2-5, text for 0-1), is torch's magic number.
    /// </summary>
    public static bool LooksLikeLegacy(ReadOnlySpan<byte> start)
    {
        byte[] bytes = start[..Math.Min(start.Length, DetectionLength)].ToArray();
        try
        {
            return new PickleReader(new PickleGlobals(), "start").Load(bytes, 0, bytes.Length, out _) is BigInteger number && number == MagicNumber;
        }
        catch (WeightsFormatException)
        {
            return false;
        }
    }

    /// <summary>Reads the pickled object with its tensors as <see cref="TorchTensorView"/>s whose storages are loaded.</summary>
    public static object? ReadObject(byte[] file, string sourceName)
    {
        var plain = new PickleReader(new PickleGlobals(), sourceName);
        int position = 0;
        object? magic = plain.Load(file, position, file.Length - position, out int used);
        position += used;
        if (magic is not BigInteger number || number != MagicNumber)
        {
            throw new WeightsFormatException(sourceName, "wrong magic number: not a legacy torch.save file");
        }
        object? protocol = plain.Load(file, position, file.Length - position, out used);
        position += used;
        if (protocol is not long version || version != ProtocolVersion)
        {
            throw new WeightsFormatException(sourceName, $"unsupported legacy protocol version {PickleText.Describe(protocol)} (expected 1001)");
        }
        object? systemInfo = plain.Load(file, position, file.Length - position, out used);
        position += used;
        if (systemInfo is PickleDict info && info.TryGetValue("little_endian", out object? little) && little is false)
        {
            throw new WeightsFormatException(sourceName, "the file was written on a big-endian machine; not supported");
        }

        var ids = new TorchPersistentIds(file.Length);
        object? root = new PickleReader(TorchPickleGlobals.Create(), sourceName, ids.Load)
            .Load(file, position, file.Length - position, out used);
        position += used;

        object? keys = plain.Load(file, position, file.Length - position, out used);
        position += used;
        if (keys is not List<object?> keyList)
        {
            throw new WeightsFormatException(sourceName, "the storage key list is missing");
        }
        foreach (object? keyValue in keyList)
        {
            if (keyValue is not string key || !ids.StoragesByKey.TryGetValue(key, out TorchStorage? storage))
            {
                throw new WeightsFormatException(sourceName, $"the storage list names {PickleText.Describe(keyValue)}, which no tensor uses");
            }
            if (storage.Data is not null)
            {
                throw new WeightsFormatException(sourceName, $"the storage list names {key} twice");
            }
            position = ReadStorage(file, position, storage, sourceName);
        }
        foreach (TorchStorage storage in ids.StoragesByKey.Values)
        {
            if (storage.Data is null)
            {
                throw new WeightsFormatException(sourceName, $"storage {storage.Key} is used by a tensor but not stored in the file");
            }
        }
        return root;
    }

    private static int ReadStorage(byte[] file, int position, TorchStorage storage, string sourceName)
    {
        if (file.Length - position < 8)
        {
            throw new WeightsFormatException(sourceName, $"storage {storage.Key} is cut off (truncated file)");
        }
        long count = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(position, 8));
        position += 8;
        if (count != storage.ElementCount)
        {
            throw new WeightsFormatException(sourceName, $"storage {storage.Key} holds {count} elements, but its tensors declared {storage.ElementCount}");
        }
        long byteLength = storage.ByteLength;
        if (byteLength > file.Length - position)
        {
            throw new WeightsFormatException(sourceName, $"storage {storage.Key} needs {byteLength} bytes, only {file.Length - position} are left (truncated file)");
        }
        storage.Data = file.AsSpan(position, (int)byteLength).ToArray();
        return position + (int)byteLength;
    }
}
