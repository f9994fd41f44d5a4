using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

public sealed class ResNet18VersusPyTorchOnCpuPath(ITestOutputHelper output) : ResNet18VersusPyTorchTests(output)
{
    protected override IOps CreateOps() => new CpuOps();
}

public sealed class FullWidthResNet18OnCpuPath(ITestOutputHelper output) : FullWidthResNet18Tests(output)
{
    protected override IOps CreateOps() => new CpuOps();
}
