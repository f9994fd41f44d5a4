using IlgpuUnlearn.Model;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

public sealed class ResNet18VersusPyTorchOnCpuPath(ITestOutputHelper output) : ResNet18VersusPyTorchTests(output)
{
    protected override IOps CreateOps() => new CpuOps();
}

[Trait("Category", "Slow")]
public sealed class FullWidthResNet18OnCpuPath(ITestOutputHelper output) : FullWidthResNet18Tests(output)
{
    protected override IOps CreateOps() => new CpuOps();
}

/// <summary>The same network through every ILGPU kernel, on ILGPU's CPU accelerator (an emulator: narrow network only).</summary>
[Trait("Category", "Slow")]
public sealed class ResNet18VersusPyTorchOnIlgpuCpuAccelerator(ITestOutputHelper output) : ResNet18VersusPyTorchTests(output)
{
    protected override IOps CreateOps() => Devices.OpenIlgpuCpu();
    protected override string Fixture => PyTorchFixtureCheck.TinyFixtureFile;
}
