using IlgpuUnlearn.Cpu;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>
/// The CPU path's blocking chosen from a cache description (<see cref="CpuKernelPlan.For"/>): the parameters README's
/// benchmark section documents for the CPUs measured, and the reading of Linux's cache description.
/// </summary>
public sealed class CpuKernelPlanTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cpu-plan-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Zen4CachesGiveTheDocumentedPlan()
    {
        // AMD EPYC family 25 model 17 (Zen 4): 32 KiB L1d, 1 MiB L2 per core, AVX-512
        var plan = CpuKernelPlan.For(new CpuCacheDescription("AuthenticAMD", true, 32 * 1024, 1024 * 1024));
        Assert.Equal(new CpuKernelPlan(8, 48, 256, 4, Im2colStrategy.MaskedLoads, 1024, 512 * 1024, 256 * 1024, 32, 1024 * 1024, CpuKernelPlan.WinogradWeightGradientMinChannelsMeasured), plan);
        Assert.Equal("GEMM micro-tile 8x48, K block 256, N block 4 x 48 columns; im2col masked loads; weight gradient groups of " +
                     "1024 pixels, dy block 512 KiB, col block 256 KiB; Winograd F(2x2,3x3) for 3x3 stride 1 with >= 32 channels, " +
                     "blocks of 1024 KiB; Winograd weight gradient for 3x3 stride 1 with >= 64 channels", plan.ToString());
    }

    [Fact]
    public void EmeraldRapidsCachesGiveTheDocumentedPlan()
    {
        // Intel Xeon family 6 model 207 (Emerald Rapids): 48 KiB L1d, 2 MiB L2 per core, AVX-512
        var plan = CpuKernelPlan.For(new CpuCacheDescription("GenuineIntel", true, 48 * 1024, 2048 * 1024));
        Assert.Equal(new CpuKernelPlan(8, 48, 256, 4, Im2colStrategy.MaskedLoads, 1536, 1024 * 1024, 512 * 1024, 32, 2048 * 1024, CpuKernelPlan.WinogradWeightGradientMinChannelsMeasured), plan);
    }

    [Fact]
    public void SmallL2HalvesTheKBlockAndNoAvx512ReadsRowRuns()
    {
        // a Zen 3-like core (32 KiB L1d, 512 KiB L2) without AVX-512: A block of 512 x 128 floats is 256 KiB, half of L2
        var plan = CpuKernelPlan.For(new CpuCacheDescription("AuthenticAMD", false, 32 * 1024, 512 * 1024));
        Assert.Equal(new CpuKernelPlan(8, 48, 128, 4, Im2colStrategy.RowRuns, 1024, 256 * 1024, 128 * 1024, int.MaxValue, 512 * 1024, int.MaxValue), plan);
        // a tiny L1 still gets groups of at least 256 pixels, a tiny L2 a K block of at least 64
        var tiny = CpuKernelPlan.For(new CpuCacheDescription("unknown", false, 4 * 1024, 64 * 1024));
        Assert.Equal(256, tiny.WeightGradientGroupPixels);
        Assert.Equal(64, tiny.GemmKBlock);
    }

    [Fact]
    public void GemmsWithFewPanelsTakeNarrowerWorkItems()
    {
        int nBlock = CpuKernelPlan.Current.GemmPanelsPerChunk;
        Assert.Equal(1, CpuGemm.PanelsPerChunkFor(1));
        Assert.Equal(1, CpuGemm.PanelsPerChunkFor(CpuParallel.Workers * 8 * 2 - 1));
        Assert.Equal(Math.Min(2, nBlock), CpuGemm.PanelsPerChunkFor(CpuParallel.Workers * 8 * 2));
        Assert.Equal(nBlock, CpuGemm.PanelsPerChunkFor(1_000_000));
    }

    [Fact]
    public void ReadsLinuxCacheFoldersAndVendor()
    {
        string caches = Path.Combine(_directory, "cache");
        WriteCache(caches, 0, "1", "Data", "48K");
        WriteCache(caches, 1, "1", "Instruction", "32K");
        WriteCache(caches, 2, "2", "Unified", "2048K");
        WriteCache(caches, 3, "3", "Unified", "105M");
        string cpuinfo = Path.Combine(_directory, "cpuinfo");
        File.WriteAllText(cpuinfo, "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n");

        var cpu = CpuCacheDescription.Read(caches, cpuinfo, avx512: true);

        Assert.Equal(new CpuCacheDescription("GenuineIntel", true, 48 * 1024, 2048 * 1024), cpu);
        Assert.Equal("GenuineIntel, AVX-512, L1d 48 KiB, L2 2048 KiB", cpu.ToString());
    }

    [Fact]
    public void MissingDescriptionTakesTheDefaults()
    {
        var cpu = CpuCacheDescription.Read(Path.Combine(_directory, "absent"), Path.Combine(_directory, "absent-cpuinfo"), avx512: false);
        Assert.Equal(new CpuCacheDescription("unknown", false, CpuCacheDescription.DefaultL1DataBytes, CpuCacheDescription.DefaultL2Bytes), cpu);
    }

    [Theory]
    [InlineData("32K", 32 * 1024)]
    [InlineData("2048K", 2048 * 1024)]
    [InlineData("1M", 1024 * 1024)]
    [InlineData("512", 512)]
    [InlineData("", 0)]
    [InlineData("K", 0)]
    [InlineData("12x", 0)]
    [InlineData("-4K", 0)]
    public void ParsesCacheSizes(string text, long bytes) => Assert.Equal(bytes, CpuCacheDescription.ParseSize(text));

    private static void WriteCache(string caches, int index, string level, string type, string size)
    {
        string folder = Directory.CreateDirectory(Path.Combine(caches, $"index{index}")).FullName;
        File.WriteAllText(Path.Combine(folder, "level"), level + "\n");
        File.WriteAllText(Path.Combine(folder, "type"), type + "\n");
        File.WriteAllText(Path.Combine(folder, "size"), size + "\n");
    }
}
