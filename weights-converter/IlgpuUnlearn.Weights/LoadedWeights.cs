namespace IlgpuUnlearn.Weights;

/// <summary>A state dict read from a file, with how it was found there.</summary>
/// <param name="Tensors">The tensors, keyed as in the file but without the wrapper prefix ('module.', '_orig_mod.').</param>
/// <param name="Format">The file's format.</param>
/// <param name="WrapperKey">The checkpoint key that held the state dict ('state_dict', 'model', ...), or null for a bare one.</param>
/// <param name="StrippedPrefix">The prefix every key had and that was removed ('module.', '_orig_mod.module.', ...), or "".</param>
/// <param name="Warnings">What the file held besides the state dict and was skipped, with its place (one line each).</param>
public sealed record LoadedWeights(StateDict Tensors, WeightsFileFormat Format, string? WrapperKey, string StrippedPrefix, IReadOnlyList<string> Warnings)
{
    /// <summary>A state dict that was the whole file (safetensors): no wrapper, prefix or warnings.</summary>
    public LoadedWeights(StateDict tensors, WeightsFileFormat format)
        : this(tensors, format, null, "", [])
    {
    }

    /// <summary>From what <see cref="StateDictExtractor"/> found.</summary>
    public LoadedWeights(ExtractedStateDict found, WeightsFileFormat format)
        : this(found.Tensors, format, found.WrapperKey, found.StrippedPrefix, found.Warnings)
    {
        LeftOut = found.LeftOut;
    }

    /// <summary>The checkpoint's entries beside the state dict ('epoch', 'optimizer', ...), which a state dict alone leaves out.</summary>
    public IReadOnlyList<string> LeftOut { get; init; } = [];
}
