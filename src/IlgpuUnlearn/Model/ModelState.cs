namespace IlgpuUnlearn.Model;

/// <summary>Moves a whole state dict (torchvision names, float32 values) between the host and a model's flat buffers.</summary>
public static class ModelState
{
    /// <summary>
    /// Copies every tensor of <paramref name="state"/> into the model. Each name of the layout must be present with the
    /// right number of values; num_batches_tracked holds one value. Names the layout lacks are an error.
    /// </summary>
    public static void Load(ResNet18 model, IReadOnlyDictionary<string, float[]> state)
    {
        var layout = model.Layout;
        foreach (var name in state.Keys)
            if (!layout.Contains(name)) throw new ArgumentException($"unexpected tensor '{name}': the ResNet18 has no such tensor");
        var parameters = new float[layout.ParameterCount];
        var stats = new float[layout.RunningStatCount];
        int bn = 0;
        foreach (var spec in layout.Tensors)
        {
            if (!state.TryGetValue(spec.Name, out var values)) throw new ArgumentException($"missing tensor '{spec}'");
            long expected = spec.Role == TensorRole.BatchesTracked ? 1 : spec.Length;
            if (values.Length != expected) throw new ArgumentException($"tensor '{spec}' should hold {expected} values, got {values.Length}");
            switch (spec.Role)
            {
                case TensorRole.Parameter: values.CopyTo(parameters, spec.Offset); break;
                case TensorRole.RunningStat: values.CopyTo(stats, spec.Offset); break;
                default: model.BatchesTracked[bn++] = (long)values[0]; break;
            }
        }
        model.Ops.Upload<float>(parameters, model.Parameters.All);
        model.Ops.Upload<float>(stats, model.RunningStats.All);
    }

    /// <summary>The model's state dict in layout order (num_batches_tracked as one float each).</summary>
    public static Dictionary<string, float[]> Read(ResNet18 model)
    {
        var layout = model.Layout;
        var parameters = new float[layout.ParameterCount];
        var stats = new float[layout.RunningStatCount];
        model.Ops.Download(model.Parameters.All, parameters);
        model.Ops.Download(model.RunningStats.All, stats);
        var state = new Dictionary<string, float[]>();
        int bn = 0;
        foreach (var spec in layout.Tensors)
        {
            state[spec.Name] = spec.Role switch
            {
                TensorRole.Parameter => parameters.AsSpan((int)spec.Offset, (int)spec.Length).ToArray(),
                TensorRole.RunningStat => stats.AsSpan((int)spec.Offset, (int)spec.Length).ToArray(),
                _ => [model.BatchesTracked[bn++]],
            };
        }
        return state;
    }
}
