using System.Buffers.Binary;
using System.Text.Json;

namespace IlgpuUnlearn.Weights.Safetensors;

/// <summary>
/// Reads a safetensors file: an 8-byte little-endian header length N, N bytes of JSON
/// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}), then the data.
/// The header is validated before any tensor is read: known dtypes, byte lengths that match dtype and shape,
/// offsets inside the data, no overlaps and no holes.
/// </summary>
public static class SafetensorsReader
{
    /// <summary>The largest header accepted (the reference implementation's limit).</summary>
    public const long MaximumHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>True when the bytes start like a safetensors file (a plausible length, then '{').</summary>
    public static bool LooksLikeSafetensors(ReadOnlySpan<byte> start) =>
        start.Length >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(start) is > 1 and <= MaximumHeaderLength && start[8] == (byte)'{';

    public static StateDict Read(Stream stream, string sourceName)
    {
        long fileLength = stream.Length;
        var lengthField = new byte[8];
        ReadExactly(stream, lengthField, sourceName, "the header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthField);
        if (headerLength > (ulong)(fileLength - 8) || headerLength > MaximumHeaderLength)
        {
            throw new WeightsFormatException(sourceName, $"the header length {headerLength} is larger than the file's remaining {fileLength - 8} bytes (or the 100 MB limit)");
        }
        var header = new byte[headerLength];
        ReadExactly(stream, header, sourceName, "the header");
        long dataStart = 8 + (long)headerLength;
        List<SafetensorsEntry> entries = SafetensorsHeader.Parse(header, fileLength - dataStart, sourceName);

        var tensors = new StateDict();
        foreach (SafetensorsEntry entry in entries)
        {
            byte[] data = GC.AllocateUninitializedArray<byte>((int)(entry.End - entry.Begin)); // filled by ReadExactly or thrown away
            stream.Position = dataStart + entry.Begin;
            ReadExactly(stream, data, sourceName, $"tensor '{entry.Name}'");
            tensors.Set(entry.Name, new StoredTensor(entry.DType, entry.Shape, data));
        }
        return tensors;
    }

    private static void ReadExactly(Stream stream, byte[] buffer, string sourceName, string what)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new WeightsFormatException(sourceName, $"the file ends inside {what} (truncated)", e);
        }
    }
}

/// <summary>One tensor of a safetensors header; offsets are relative to the start of the data.</summary>
internal sealed record SafetensorsEntry(string Name, TensorDType DType, int[] Shape, long Begin, long End);

/// <summary>Parses and validates a safetensors JSON header.</summary>
internal static class SafetensorsHeader
{
    public static List<SafetensorsEntry> Parse(byte[] header, long dataLength, string sourceName)
    {
        var entries = new List<SafetensorsEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new WeightsFormatException(sourceName, "the safetensors header is not a JSON object");
            }
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw new WeightsFormatException(sourceName, $"the header names '{property.Name}' twice");
                }
                if (property.Name == "__metadata__")
                {
                    CheckMetadata(property.Value, sourceName);
                    continue;
                }
                entries.Add(ParseEntry(property.Name, property.Value, dataLength, sourceName));
            }
        }
        catch (JsonException e)
        {
            throw new WeightsFormatException(sourceName, $"the safetensors header is not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new WeightsFormatException(sourceName, $"the safetensors header is not valid JSON or UTF-8: {e.Message}", e);
        }
        CheckLayout(entries, dataLength, sourceName);
        return entries;
    }

    private static void CheckMetadata(JsonElement metadata, string sourceName)
    {
        if (metadata.ValueKind != JsonValueKind.Object || metadata.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
        {
            throw new WeightsFormatException(sourceName, "__metadata__ must map strings to strings");
        }
    }

    private static SafetensorsEntry ParseEntry(string name, JsonElement value, long dataLength, string sourceName)
    {
        WeightsFormatException Bad(string problem) => new(sourceName, $"tensor '{name}': {problem}");

        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out JsonElement shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out JsonElement offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array)
        {
            throw Bad("needs dtype (string), shape (array) and data_offsets (array)");
        }
        string dtypeName = dtypeElement.GetString()!;
        if (!TensorDTypes.TryFromSafetensorsName(dtypeName, out TensorDType dtype))
        {
            throw Bad($"unsupported dtype '{dtypeName}'");
        }
        var shape = new int[shapeElement.GetArrayLength()];
        int i = 0;
        foreach (JsonElement dimension in shapeElement.EnumerateArray())
        {
            if (dimension.ValueKind != JsonValueKind.Number || !dimension.TryGetInt32(out int size) || size < 0)
            {
                throw Bad("shape must hold non-negative integers below 2^31");
            }
            shape[i++] = size;
        }
        if (offsetsElement.GetArrayLength() != 2)
        {
            throw Bad("data_offsets must be [begin, end]");
        }
        long[] offsets = offsetsElement.EnumerateArray()
            .Select(o => o.ValueKind == JsonValueKind.Number && o.TryGetInt64(out long v) && v >= 0 ? v : -1).ToArray();
        long begin = offsets[0], end = offsets[1];
        if (begin < 0 || end < 0 || begin > end)
        {
            throw Bad("data_offsets must be non-negative with begin <= end");
        }
        if (end > dataLength)
        {
            throw Bad($"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes)");
        }
        long expected;
        try
        {
            expected = checked(StoredTensor.ElementCountOf(shape) * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw Bad($"shape {StoredTensor.ShapeText(shape)} is too large");
        }
        if (expected != end - begin)
        {
            throw Bad($"{dtypeName} of shape {StoredTensor.ShapeText(shape)} needs {expected} bytes, but data_offsets give {end - begin}");
        }
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static void CheckLayout(List<SafetensorsEntry> entries, long dataLength, string sourceName)
    {
        long covered = 0;
        foreach (SafetensorsEntry entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin < covered)
            {
                throw new WeightsFormatException(sourceName, $"tensor '{entry.Name}' at [{entry.Begin}, {entry.End}] overlaps another tensor's bytes");
            }
            if (entry.Begin > covered)
            {
                throw new WeightsFormatException(sourceName, $"bytes [{covered}, {entry.Begin}) before tensor '{entry.Name}' belong to no tensor");
            }
            covered = entry.End;
        }
        if (covered != dataLength)
        {
            throw new WeightsFormatException(sourceName, $"the data is {dataLength} bytes but the tensors cover {covered}");
        }
    }
}
