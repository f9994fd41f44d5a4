namespace IlgpuUnlearn;

/// <summary>The device asked for is not on this machine (no CUDA GPU, no driver).</summary>
public sealed class DeviceUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
