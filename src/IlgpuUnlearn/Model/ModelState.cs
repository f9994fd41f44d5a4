namespace IlgpuUnlearn.Model;

/// <summary>Moves a whole state dict (torchvision names, float32 values) between the host and a model's flat buffers.</summary>
public static class ModelState
{
    /// <summary>
    /// Copies every tensor of <paramref name="state"/> into the model. Each name of the layout must be present with the
    /// right number of values; num_batches_tracked holds one value. Names the layout lacks are an error, found before
    /// anything is copied. Each tensor is uploaded straight into its slice of the model's buffers: no host copy of the
    /// whole parameter vector (4 bytes x 11.2 M parameters, 44.7 MB for the CIFAR ResNet18, which stayed resident as
    /// garbage through the training that followed).
    /// </summary>
    public static void Load(ResNet18 model, IReadOnlyDictionary<string, float[]> state)
    {
        var layout = model.Layout;
        foreach (var name in state.Keys)
            if (!layout.Contains(name)) throw new ArgumentException($"unexpected tensor '{name}': the ResNet18 has no such tensor");
        foreach (var spec in layout.Tensors)
        {
            if (!state.TryGetValue(spec.Name, out var values)) throw new ArgumentException($"missing tensor '{spec}'");
            long expected = spec.Role == TensorRole.BatchesTracked ? 1 : spec.Length;
            if (values.Length != expected) throw new ArgumentException($"tensor '{spec}' should hold {expected} values, got {values.Length}");
        }
        int bn = 0;
        foreach (var spec in layout.Tensors)
        {
            var values = state[spec.Name];
            switch (spec.Role)
            {
                case TensorRole.Parameter: model.Ops.Upload<float>(values, model.Parameters.At(spec.Offset, spec.Length)); break;
                case TensorRole.RunningStat: model.Ops.Upload<float>(values, model.RunningStats.At(spec.Offset, spec.Length)); break;
                default: model.BatchesTracked[bn++] = (long)values[0]; break;
            }
        }
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
