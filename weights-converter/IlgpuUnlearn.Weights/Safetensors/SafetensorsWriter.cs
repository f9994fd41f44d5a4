using System.Buffers.Binary;
using System.Text.Json;

namespace IlgpuUnlearn.Weights.Safetensors;

/// <summary>Writes a state dict as safetensors, tensors in the state dict's order, header padded to 8 bytes.</summary>
public static class SafetensorsWriter
{
    public static void Write(Stream stream, StateDict tensors)
    {
        byte[] header = BuildHeader(tensors);
        Span<byte> lengthField = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthField, (ulong)header.Length);
        stream.Write(lengthField);
        stream.Write(header);
        foreach ((_, StoredTensor tensor) in tensors)
        {
            stream.Write(tensor.Bytes);
        }
    }

    private static byte[] BuildHeader(StateDict tensors)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach ((string name, StoredTensor tensor) in tensors)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", tensor.DType.SafetensorsName());
                json.WriteStartArray("shape");
                foreach (int dimension in tensor.Shape)
                {
                    json.WriteNumberValue(dimension);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += tensor.Memory.Length;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++)
        {
            buffer.WriteByte((byte)' ');
        }
        return buffer.ToArray();
    }
}
