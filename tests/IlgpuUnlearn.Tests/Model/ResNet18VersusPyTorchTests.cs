using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Support;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>
/// The width-8 network on 16x16 images against PyTorch 1.13 fp32 (Fixtures/resnet18_w8_s16.safetensors), once per ops
/// implementation. The checks and their tolerances (and why they are what they are) are <see cref="PyTorchFixtureCheck"/>'s,
/// shared with `ilgpu-unlearn self-test`.
/// </summary>
public abstract class ResNet18VersusPyTorchTests(ITestOutputHelper output) : IDisposable
{
    protected abstract IOps CreateOps();
    IOps? ops;
    IOps Ops => ops ??= CreateOps();
    public void Dispose() { ops?.Dispose(); GC.SuppressFinalize(this); }

    [Fact]
    public void NarrowNetworkForwardBackwardAndRunningStatisticsMatchPyTorch()
        => FixtureAssert.AllPassed(output, PyTorchFixtureCheck.NarrowForwardBackward(Ops, FixtureFile.Open(PyTorchFixtureCheck.NarrowFixtureFile)));

    [Fact]
    public void TwoAdvNegGradStepsMatchPyTorch()
        => FixtureAssert.AllPassed(output, PyTorchFixtureCheck.NarrowAdvNegGradSteps(Ops, FixtureFile.Open(PyTorchFixtureCheck.NarrowFixtureFile)));
}
