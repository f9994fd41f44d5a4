using System.Text.Json;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>The safetensors fixtures written by Fixtures/make_model_fixtures.py (F32, I64 and U8 tensors).</summary>
public sealed class FixtureFile
{
    readonly Dictionary<string, (string Dtype, int[] Shape, byte[] Data)> tensors = new();

    public FixtureFile(string fileName)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", fileName);
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        int dataStart = 8 + (int)headerLength;
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            var offsets = entry.Value.GetProperty("data_offsets");
            int begin = offsets[0].GetInt32(), end = offsets[1].GetInt32();
            tensors[entry.Name] = (entry.Value.GetProperty("dtype").GetString()!,
                entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(),
                bytes[(dataStart + begin)..(dataStart + end)]);
        }
    }

    public IEnumerable<string> Names => tensors.Keys;
    public bool Contains(string name) => tensors.ContainsKey(name);
    public int[] Shape(string name) => Get(name, null).Shape;

    public float[] Floats(string name) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Get(name, "F32").Data).ToArray();
    public long[] Longs(string name) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(Get(name, "I64").Data).ToArray();
    public byte[] Bytes(string name) => Get(name, "U8").Data;

    (string Dtype, int[] Shape, byte[] Data) Get(string name, string? dtype)
    {
        if (!tensors.TryGetValue(name, out var t)) throw new KeyNotFoundException($"fixture has no tensor '{name}'");
        if (dtype is not null && t.Dtype != dtype) throw new InvalidDataException($"fixture tensor '{name}' is {t.Dtype}, not {dtype}");
        return t;
    }
}
