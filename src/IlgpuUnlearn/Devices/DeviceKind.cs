namespace IlgpuUnlearn;

/// <summary>What runs the ops.</summary>
public enum DeviceKind
{
    /// <summary>ILGPU on an NVIDIA GPU: the product's main path.</summary>
    Cuda,
    /// <summary>The plain C# path (SIMD, all cores): the reference, and the fast path with no GPU.</summary>
    Cpu,
    /// <summary>The ILGPU kernels on ILGPU's CPU accelerator: a slow emulator, for debugging kernels without a GPU.</summary>
    IlgpuCpu,
}

/// <summary>One device <see cref="Devices.ListAvailable"/> found.</summary>
/// <param name="Index">Which GPU, for <see cref="DeviceKind.Cuda"/> (0-based, as --device cuda:N names it).</param>
public sealed record DeviceDescription(DeviceKind Kind, string Name, string Details, int Index = 0)
{
    /// <summary>"cuda:1: NVIDIA H200 (…)", "cpu: plain C# (…)": the name --device takes first.</summary>
    public override string ToString() => $"{new DeviceSpec(Kind, Index)}: {Name} ({Details})";
}

/// <summary>A device to open: its kind and, for <see cref="DeviceKind.Cuda"/>, which GPU (0-based). Written as "cuda:1", "cpu".</summary>
public readonly record struct DeviceSpec(DeviceKind Kind, int Index = 0)
{
    public override string ToString() => Kind == DeviceKind.Cuda ? $"cuda:{Index}" : Devices.NameOf(Kind);
}
