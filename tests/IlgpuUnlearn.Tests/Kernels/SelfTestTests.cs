using IlgpuUnlearn.Ilgpu;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>The CUDA self-test, run here on the ILGPU CPU accelerator with a reduced ResNet18 (width 4, 8x8 images, batch 2).</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class SelfTestTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    [Trait("Category", "Slow")]
    [Fact]
    public void PassesOnAReducedResNet18()
    {
        // The kernel versions are checked by the next test, on smaller shapes (the CPU accelerator is slow).
        var shapes = SelfTestShapes.ResNet18(batch: 2, baseWidth: 4, imageSize: 8, flatLength: 3001) with { EveryVersion = false };
        var text = new StringWriter();
        int result = IlgpuSelfTest.Run(fixture.Tiled, fixture.Cpu, text, shapes);
        output.WriteLine(text.ToString());
        Assert.Equal(0, result);
    }

    /// <summary>Every kernel version that runs here (all but TF32) on every layer shape of a width-2 ResNet18 at batch 2 (batch 1 would leave one value per channel in the last batch norm).</summary>
    [Trait("Category", "Slow")]
    [Fact]
    public void EveryKernelVersionPassesOnATinyResNet18()
    {
        var shapes = SelfTestShapes.ResNet18(batch: 2, baseWidth: 2, imageSize: 8, flatLength: 1);
        var results = IlgpuSelfTest.CheckVersions(fixture.Tiled, fixture.Cpu, shapes).ToList();
        foreach (var r in results)
            output.WriteLine(r.ToString());
        foreach (var v in KernelVersions.Convolution.Where(v => !v.CudaOnly))
            Assert.Contains(results, r => r.Op == $"Conv2dBackwardWeight [{v.Name}]");
        foreach (var v in KernelVersions.BatchNorm)
            Assert.Contains(results, r => r.Op == $"BatchNormBackward dgamma [{v.Name}]");
        Assert.All(results, r => Assert.True(r.Passed, r.ToString()));
    }

    [Fact]
    public void FullShapeListCoversEveryResNet18Layer()
    {
        var shapes = SelfTestShapes.ResNet18();
        Assert.Equal(256, shapes.Batch);
        Assert.Equal(11, shapes.Convolutions.Count);
        Assert.Contains(shapes.Convolutions, s => s.K == 1 && s.Stride == 2 && s.Cin == 256 && s.Cout == 512);
        Assert.Contains(shapes.Convolutions, s => s.K == 3 && s.Stride == 1 && s.Cin == 512 && s.H == 4);
        Assert.Equal([64, 128, 256, 512], shapes.BatchNorms.Select(b => b.C));
        Assert.Equal([1024, 256, 64, 16], shapes.BatchNorms.Select(b => b.HW));
    }
}
