namespace IlgpuUnlearn.Model;

/// <summary>
/// A fresh network, initialised as torchvision initialises ResNets: conv weights from N(0, 2 / fan_out) (Kaiming normal,
/// fan-out mode, ReLU gain), BatchNorm weight 1 and bias 0, running mean 0 and variance 1, fc uniform in +-1/sqrt(in).
/// Seeded, so a run can be repeated.
/// </summary>
public static class RandomInit
{
    /// <summary>The initial state dict (torchvision names, float32 values; num_batches_tracked as one 0).</summary>
    public static Dictionary<string, float[]> State(ResNet18Layout layout, int seed)
    {
        var state = new Dictionary<string, float[]>();
        Generate(layout, seed, (t, v) => state[t.Name] = v.ToArray());
        return state;
    }

    /// <summary>
    /// Initialises <paramref name="model"/> in place with the values <see cref="State"/> gives for the same seed, tensor by
    /// tensor through one host array of the largest tensor (512 x 512 x 3 x 3 floats, 9.4 MB in layer4) rather than a
    /// whole state dict (44.7 MB for the CIFAR ResNet18, which stayed resident as garbage through the training that followed).
    /// </summary>
    public static void Load(ResNet18 model, int seed)
    {
        int bn = 0;
        Generate(model.Layout, seed, (t, v) =>
        {
            switch (t.Role)
            {
                case TensorRole.Parameter: model.Ops.Upload(v, model.Parameters.At(t.Offset, t.Length)); break;
                case TensorRole.RunningStat: model.Ops.Upload(v, model.RunningStats.At(t.Offset, t.Length)); break;
                default: model.BatchesTracked[bn++] = (long)v[0]; break;
            }
        });
    }

    delegate void TensorSink(TensorSpec tensor, ReadOnlySpan<float> values);

    /// <summary>Draws every tensor of the layout in layout order (one random stream), handing each to <paramref name="sink"/>
    /// in a reused array that is valid only during the call.</summary>
    static void Generate(ResNet18Layout layout, int seed, TensorSink sink)
    {
        var random = new Random(seed);
        var buffer = new float[layout.Tensors.Max(t => t.Role == TensorRole.BatchesTracked ? 1 : t.Length)];
        foreach (var t in layout.Tensors)
        {
            var v = buffer.AsSpan(0, (int)(t.Role == TensorRole.BatchesTracked ? 1 : t.Length));
            v.Clear();
            string name = t.Name;
            if (t.Shape.Length == 4)
            {
                double std = Math.Sqrt(2.0 / (t.Shape[0] * t.Shape[2] * t.Shape[3]));
                for (int i = 0; i < v.Length; i++) v[i] = (float)(std * Normal(random));
            }
            else if (name.StartsWith("fc.", StringComparison.Ordinal))
            {
                double bound = 1.0 / Math.Sqrt(layout["fc.weight"].Shape[1]);
                for (int i = 0; i < v.Length; i++) v[i] = (float)((random.NextDouble() * 2 - 1) * bound);
            }
            else if (name.EndsWith(".running_var", StringComparison.Ordinal) || (t.Role == TensorRole.Parameter && name.EndsWith(".weight", StringComparison.Ordinal)))
            {
                v.Fill(1f);
            }
            sink(t, v);
        }
    }

    static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
