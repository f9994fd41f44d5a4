namespace IlgpuUnlearn.Weights;

/// <summary>The weights file formats this library reads (and, for TorchZip and Safetensors, writes).</summary>
public enum WeightsFileFormat
{
    /// <summary>torch.save's zip format (PyTorch 1.6 and later; .pth / .pt).</summary>
    TorchZip,

    /// <summary>torch.save's legacy format (_use_new_zipfile_serialization=False); read only.</summary>
    TorchLegacy,

    /// <summary>Hugging Face safetensors (.safetensors).</summary>
    Safetensors,
}
