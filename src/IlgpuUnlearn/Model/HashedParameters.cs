namespace IlgpuUnlearn.Model;

/// <summary>
/// The deterministic values of tests/IlgpuUnlearn.Tests/Fixtures/make_model_fixtures.py (hash_uniform, hash_bytes,
/// init_hashed), computed with the same integer arithmetic, so a full-width network's 11M parameters need not be committed:
/// both sides compute them. Used by the fixture tests and by `ilgpu-unlearn self-test` (<see cref="PyTorchFixtureCheck"/>).
/// </summary>
public static class HashedParameters
{
    /// <summary>count floats in [-1, 1) from a 32-bit hash of (stream, index); exact in both languages.</summary>
    public static float[] Uniform(int count, int stream)
    {
        var result = new float[count];
        for (int i = 0; i < count; i++)
        {
            uint h = unchecked((uint)i * 2654435761u + (uint)stream * 40503u + 12345u);
            h ^= h >> 16;
            h = unchecked(h * 0x7FEB352Du);
            h ^= h >> 15;
            h = unchecked(h * 0x846CA68Bu);
            h ^= h >> 16;
            result[i] = (float)((h >> 8) / (double)(1 << 24) * 2.0 - 1.0);
        }
        return result;
    }

    /// <summary>hash_bytes(): count bytes 0..255 (image pixels) from the same hash.</summary>
    public static byte[] Bytes(int count, int stream)
    {
        var u = Uniform(count, stream);
        var result = new byte[count];
        for (int i = 0; i < count; i++) result[i] = (byte)Math.Clamp(Math.Floor((u[i] + 1.0) * 128.0), 0, 255);
        return result;
    }

    /// <summary>init_hashed(): every state-dict tensor j (state-dict order) from stream j, scaled like a trained network's.</summary>
    public static Dictionary<string, float[]> State(ResNet18Layout layout)
    {
        var state = new Dictionary<string, float[]>();
        for (int j = 0; j < layout.Tensors.Count; j++)
        {
            var t = layout.Tensors[j];
            if (t.Role == TensorRole.BatchesTracked) { state[t.Name] = [j]; continue; }
            var u = Uniform((int)t.Length, j);
            Func<float, float> f =
                t.Shape.Length == 4 ? x => x * (float)Math.Sqrt(6.0 / (t.Shape[1] * t.Shape[2] * t.Shape[3]))
                : t.Name == "fc.weight" ? x => x / (float)Math.Sqrt(t.Shape[1])
                : t.Name.EndsWith("running_var", StringComparison.Ordinal) ? x => 1f + 0.5f * MathF.Abs(x)
                : t.Name.EndsWith(".weight", StringComparison.Ordinal) ? x => 1f + 0.25f * x
                : x => 0.1f * x;
            for (int i = 0; i < u.Length; i++) u[i] = f(u[i]);
            state[t.Name] = u;
        }
        return state;
    }
}
