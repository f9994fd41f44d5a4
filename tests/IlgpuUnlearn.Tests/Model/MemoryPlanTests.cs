using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Tests.Model;

/// <summary>The up-front memory figures: the planned arena is the arena a model allocates, and the largest batch is exact.</summary>
public sealed class MemoryPlanTests
{
    [Theory]
    [InlineData(8, 16, 10, 3)]
    [InlineData(64, 32, 10, 2)]
    public void PlannedArenaIsTheArenaTheModelAllocates(int width, int size, int classes, int batch)
    {
        var config = new ResNet18Config(width, size, classes);
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, batch);
        Assert.Equal(model.ArenaBytes, ResNet18.PlannedArenaBytes(config, batch));
    }

    /// <summary>
    /// The card's batch of 2500 at full width, planned only (nothing allocated): the activations take 100 regions of layer4's
    /// output size (2500 x 512 x 4 x 4 floats = 81.9 MB) plus the input and the head, 8.23 GB, and with the flat buffers and the
    /// scratch allowance the CUDA path stays under the 10 GB that leaves room on a 16 GB card.
    /// </summary>
    [Fact]
    public void CardsBatchNeedsUnderTenGigabytesOnCuda()
    {
        var need = MemoryPlan.For(ResNet18Config.Cifar10, 2500, training: true, new DeviceSpec(DeviceKind.Cuda), availableBytes: 16_000_000_000);
        long layer4Output = 2500L * 512 * 4 * 4 * sizeof(float);
        long input = 2500L * 3 * 32 * 32 * sizeof(float);
        Assert.InRange(need.ArenaBytes, 100 * layer4Output + input, 100 * layer4Output + input + 20_000_000);
        Assert.True(need.TotalBytes <= 10_000_000_000, $"{need.TotalBytes:N0} bytes");
        Assert.True(need.Fits);
    }

    [Fact]
    public void LargestBatchFitsAndOneMoreDoesNot()
    {
        var config = ResNet18Config.Cifar10;
        long available = 3_000_000_000;
        var need = MemoryPlan.For(config, 20000, training: true, new DeviceSpec(DeviceKind.Cpu), available);
        Assert.False(need.Fits);
        Assert.InRange(need.LargestBatch, 1, 19999);
        Assert.True(MemoryPlan.For(config, need.LargestBatch, true, new DeviceSpec(DeviceKind.Cpu), available).Fits);
        Assert.False(MemoryPlan.For(config, need.LargestBatch + 1, true, new DeviceSpec(DeviceKind.Cpu), available).Fits);
        // Evaluation needs no gradients, momentum or batch buffers: a larger batch fits.
        Assert.True(MemoryPlan.For(config, 20000, training: false, new DeviceSpec(DeviceKind.Cpu), available).LargestBatch > need.LargestBatch);
    }

    [Fact]
    public void LargestBatchNeverExceedsWhatOneRegionCanIndex()
    {
        var need = MemoryPlan.For(ResNet18Config.Cifar10, 100_000, training: true, new DeviceSpec(DeviceKind.Cpu), availableBytes: long.MaxValue / 2);
        Assert.Equal(ResNet18.LargestBatch(ResNet18Config.Cifar10), need.LargestBatch);
        Assert.Equal(int.MaxValue / (2 * 64 * 32 * 32), need.LargestBatch);
    }
}
