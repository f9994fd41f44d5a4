using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>Memory handling of IlgpuOps: zeroed allocations, accounting, slices at offsets, errors.</summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class IlgpuOpsTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void AllocateIsZeroedAndCounted()
    {
        var ops = fixture.Tiled;
        long before = ops.AllocatedBytes;
        var first = new float[1000];
        using (var a = ops.Allocate<float>(1000))
        {
            Assert.Equal(before + 4000, ops.AllocatedBytes);
            Assert.True(ops.PeakAllocatedBytes >= before + 4000);
            ops.Fill(a.All, 3f);
            ops.Download(a.All, first);
        }
        Assert.Equal(before, ops.AllocatedBytes);
        using var b = ops.Allocate<float>(1000);
        var values = new float[1000];
        ops.Download(b.All, values);
        Assert.All(first, v => Assert.Equal(3f, v));
        Assert.All(values, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void SlicesAtOffsetsTouchOnlyTheirElements()
    {
        var ops = fixture.Tiled;
        using var buffer = ops.Allocate<float>(100);
        ops.Upload<float>(Enumerable.Range(0, 10).Select(i => (float)i - 5).ToArray(), buffer.At(37, 10));
        ops.ReluForward(buffer.At(37, 10), buffer.At(60, 10));
        var all = new float[100];
        ops.Download(buffer.All, all);
        for (int i = 0; i < 100; i++)
        {
            float expected = i is >= 37 and < 47 ? i - 37 - 5 : i is >= 60 and < 70 ? MathF.Max(i - 60 - 5, 0) : 0;
            Assert.Equal(expected, all[i]);
        }
    }

    [Fact]
    public void ForeignBuffersAndWrongLengthsAreRejected()
    {
        using var cpuBuffer = fixture.Cpu.Allocate<float>(10);
        using var ilgpuBuffer = fixture.Tiled.Allocate<float>(10);
        var e = Assert.Throws<ArgumentException>(() => fixture.Tiled.ReluForward(cpuBuffer.All, ilgpuBuffer.All));
        output.WriteLine(e.Message);
        Assert.Throws<ArgumentException>(() => fixture.Tiled.ReluForward(ilgpuBuffer.At(0, 5), ilgpuBuffer.All));
        Assert.Throws<ArgumentException>(() => fixture.Tiled.Conv2dForward(new ConvShape(1, 1, 3, 3, 1, 3, 1, 1), ilgpuBuffer.All, ilgpuBuffer.All, ilgpuBuffer.All));
    }

    [Fact]
    public void OutOfMemoryIsAClearError()
    {
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => fixture.Tiled.Allocate<float>(1L << 50));
        output.WriteLine(e.Message);
        Assert.Contains("--batch-size", e.Message);
    }
}
