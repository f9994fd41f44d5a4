namespace IlgpuUnlearn.Model;

/// <summary>
/// A fresh network, initialised as torchvision initialises ResNets: conv weights from N(0, 2 / fan_out) (Kaiming normal,
/// fan-out mode, ReLU gain), BatchNorm weight 1 and bias 0, running mean 0 and variance 1, fc uniform in +-1/sqrt(in).
/// Seeded, so a run can be repeated.
/// </summary>
public static class RandomInit
{
    public static Dictionary<string, float[]> State(ResNet18Layout layout, int seed)
    {
        var random = new Random(seed);
        var state = new Dictionary<string, float[]>();
        foreach (var t in layout.Tensors)
        {
            var v = new float[t.Role == TensorRole.BatchesTracked ? 1 : t.Length];
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
                Array.Fill(v, 1f);
            }
            state[name] = v;
        }
        return state;
    }

    static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
