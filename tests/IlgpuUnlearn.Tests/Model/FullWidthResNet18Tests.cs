using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Support;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>
/// The full-width (64) network on two 32x32 images against PyTorch (Fixtures/resnet18_w64_s32.safetensors): parameters and
/// pixels come from <see cref="HashedParameters"/>, so only PyTorch's outputs are committed. Checks and tolerances are
/// <see cref="PyTorchFixtureCheck.FullWidthForwardBackward"/>'s, shared with `ilgpu-unlearn self-test`.
/// </summary>
public abstract class FullWidthResNet18Tests(ITestOutputHelper output) : IDisposable
{
    protected abstract IOps CreateOps();
    IOps? ops;
    IOps Ops => ops ??= CreateOps();
    public void Dispose() { ops?.Dispose(); GC.SuppressFinalize(this); }

    [Fact]
    public void ForwardBackwardOfTheFullNetworkMatchPyTorch()
        => FixtureAssert.AllPassed(output, PyTorchFixtureCheck.FullWidthForwardBackward(Ops, FixtureFile.Open(PyTorchFixtureCheck.FullWidthFixtureFile)));
}
