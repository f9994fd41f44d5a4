using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Tests.Support;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>
/// A narrow network against PyTorch 1.13 fp32, once per ops implementation: width 8 on 16x16 images
/// (Fixtures/resnet18_w8_s16.safetensors) by default, width 2 on 8x8 where every GPU thread is emulated. The checks and
/// their tolerances (and why they are what they are) are <see cref="PyTorchFixtureCheck"/>'s, shared with
/// `ilgpu-unlearn self-test`.
/// </summary>
public abstract class ResNet18VersusPyTorchTests(ITestOutputHelper output) : IDisposable
{
    protected abstract IOps CreateOps();
    protected virtual string Fixture => PyTorchFixtureCheck.NarrowFixtureFile;
    IOps? ops;
    IOps Ops => ops ??= CreateOps();
    public void Dispose() { ops?.Dispose(); GC.SuppressFinalize(this); }

    [Fact]
    public void NarrowNetworkForwardBackwardAndRunningStatisticsMatchPyTorch()
        => FixtureAssert.AllPassed(output, PyTorchFixtureCheck.NarrowForwardBackward(Ops, FixtureFile.Open(Fixture)));
}

/// <summary>
/// Two AdvNegGrad steps (forget batch then retain batch, combined gradient, global-norm clip, Nesterov SGD) against
/// PyTorch on the CPU path. ILGPU's CPU accelerator is too slow for whole steps (minutes); its optimiser kernels are
/// checked op by op in Kernels/, and `ilgpu-unlearn self-test` runs these steps on CUDA.
/// </summary>
public sealed class AdvNegGradStepsVersusPyTorchTests(ITestOutputHelper output)
{
    [Fact]
    public void TwoAdvNegGradStepsMatchPyTorch()
    {
        using var ops = new CpuOps();
        FixtureAssert.AllPassed(output, PyTorchFixtureCheck.NarrowAdvNegGradSteps(ops, FixtureFile.Open(PyTorchFixtureCheck.NarrowFixtureFile)));
    }
}

/// <summary>
/// A grey-image network as native Fashion-MNIST ResNets are (conv1.weight (2, 1, 3, 3), 28x28 inputs whose stride-2 stages
/// give 14, 7 and 4, Fashion-MNIST's mean and std) against PyTorch on the CPU path: forward, backward, running statistics,
/// and two AdvNegGrad steps from uint8 pixels through LoadImages. Same checks and tolerances as the colour network's.
/// </summary>
public sealed class GreyNetworkVersusPyTorchTests(ITestOutputHelper output)
{
    [Fact]
    public void OneChannelNetworkForwardBackwardMatchesPyTorch()
    {
        using var ops = new CpuOps();
        FixtureAssert.AllPassed(output, PyTorchFixtureCheck.NarrowForwardBackward(ops, FixtureFile.Open(PyTorchFixtureCheck.GreyFixtureFile)));
    }

    [Fact]
    public void OneChannelNetworkTwoAdvNegGradStepsMatchPyTorch()
    {
        using var ops = new CpuOps();
        FixtureAssert.AllPassed(output, PyTorchFixtureCheck.NarrowAdvNegGradSteps(ops, FixtureFile.Open(PyTorchFixtureCheck.GreyFixtureFile)));
    }
}
