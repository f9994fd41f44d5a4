namespace IlgpuUnlearn.Weights;

/// <summary>A state dict read from a file, with how it was found there.</summary>
/// <param name="Tensors">The tensors, keyed as in the file but without a DataParallel 'module.' prefix.</param>
/// <param name="Format">The file's format.</param>
/// <param name="WrapperKey">The checkpoint key that held the state dict ('state_dict', 'model', ...), or null for a bare one.</param>
/// <param name="StrippedModulePrefix">True when every key had a 'module.' prefix that was removed.</param>
public sealed record LoadedWeights(StateDict Tensors, WeightsFileFormat Format, string? WrapperKey, bool StrippedModulePrefix);
