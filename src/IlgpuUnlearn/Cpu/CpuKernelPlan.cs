namespace IlgpuUnlearn.Cpu;

/// <summary>How a panel of the forward convolution's im2col operand is read from the image.</summary>
public enum Im2colStrategy
{
    /// <summary>
    /// Each 16-pixel piece as one AVX-512 masked load (the padding's lanes masked off): "same" stride-1 convolutions read in
    /// place, and stride-2 ones that halve an even image read through its four phases (<see cref="StrideTwoPhases"/>).
    /// </summary>
    MaskedLoads,
    /// <summary>Runs along output rows copied one by one (any convolution; the only way without AVX-512's mask registers).</summary>
    RowRuns,
}

/// <summary>
/// The CPU path's blocking, chosen from what the CPU reports (<see cref="CpuCacheDescription"/>) by <see cref="For"/>:
/// <list type="bullet">
/// <item>register blocking of the GEMM micro-kernel: <see cref="MicroTileRows"/> x <see cref="MicroTileColumns"/>;</item>
/// <item>the GEMM's K block (<see cref="GemmKBlock"/>): every micro-panel of B (kc x NR) runs against the whole packed A
/// block (M x kc), so that block is sized to stay in the level-2 cache;</item>
/// <item>the GEMM's N block (<see cref="GemmPanelsPerChunk"/>): the most micro-panels of columns one worker takes at a time;</item>
/// <item>the im2col strategy (<see cref="Im2col"/>);</item>
/// <item>the weight gradient's grouping: images per group so that a tile's six col rows of <see cref="WeightGradientGroupPixels"/>
/// floats stay in L1, and the dy rows and col rows kept in L2 beside each other
/// (<see cref="WeightGradientDyBlockBytes"/>, <see cref="WeightGradientColumnBlockBytes"/>);</item>
/// <item>which convolutions run by Winograd's F(2x2, 3x3) (<see cref="UsesWinograd"/>: 3x3, stride 1, padding 1, at least
/// <see cref="WinogradMinChannels"/> channels in and out) and how many tiles a worker takes at a time
/// (<see cref="WinogradTilesPerBlock"/>, its transformed tiles sized by <see cref="WinogradBlockBytes"/>).</item>
/// <item>which weight gradients run by Winograd F(2x2, 3x3) (<see cref="UsesWinogradWeightGradient"/>): 3x3 stride-1 pad-1
/// convolutions with at least <see cref="WinogradWeightGradientMinChannels"/> input and output channels.</item>
/// </list>
/// </summary>
public sealed record CpuKernelPlan(
    int MicroTileRows, int MicroTileColumns, int GemmKBlock, int GemmPanelsPerChunk, Im2colStrategy Im2col,
    int WeightGradientGroupPixels, int WeightGradientDyBlockBytes, int WeightGradientColumnBlockBytes,
    int WinogradMinChannels, int WinogradBlockBytes, int WinogradWeightGradientMinChannels)
{
    /// <summary>Rows of the weight gradient's tile of col rows (its micro-kernel is 4 dy rows x 6 col rows).</summary>
    public const int WeightGradientColRows = 6;

    /// <summary>
    /// The fewest input and output channels at which the Winograd weight gradient (<see cref="CpuWinogradWeightGradient"/>)
    /// beats the direct one. Measured on Zen 4 (one
    /// thread, CPU time, batch 64, direct / Winograd): 64 channels 1.76x at 32x32, 1.17x at 8x8, 1.41x at 4x4; 128 to 512
    /// channels 1.3-1.9x at every size of ResNet18 (CIFAR and Fashion-MNIST); 32 channels 1.25x at 32x32 but 0.73x at 16x16;
    /// 16 channels 0.8-1.0x; 3 -> 64 (the stem) 0.54x. Below 64 channels the transforms, which grow with Cin + Cout, outweigh the
    /// GEMMs' saving, which grows with Cin Cout.
    /// </summary>
    public const int WinogradWeightGradientMinChannelsMeasured = 64;

    /// <summary>
    /// The Winograd weight-gradient threshold of a CPU without AVX-512 (<see cref="int.MaxValue"/>: never; its transforms
    /// are written with AVX-512's two-source permute). Its fp32 error is PyTorch's: measured against fp64 on ResNet18's 3x3
    /// stride-1 shapes at batch 4 (post-ReLU inputs, relative rms of dw), 1.3-2.3e-7 where the direct path has 0.6-1.5e-7 and
    /// PyTorch 1.13's own fp32 weight gradient 1.1-7.3e-7 (layer4 to layer1; CpuWinogradWeightGradientTests
    /// .ErrorOnResNet18sShapesIsPyTorchs, bench/cpu/torch_weight_gradient_error.py).
    /// </summary>
    public const int WinogradWeightGradientOff = int.MaxValue;

    /// <summary>The plan of this machine, chosen once at start-up.</summary>
    public static CpuKernelPlan Current { get; } = For(CpuCacheDescription.ThisMachine);

    /// <summary>The most rows of A a convolution's GEMM has in ResNet18 (Cout or Cin of layer4): its A block is this x kc.</summary>
    public const int LargestGemmRows = 512;

    /// <summary>
    /// The plan for a CPU with these caches. Rules (each a fraction of a cache, the rest left for the other operands' streams):
    /// <list type="bullet">
    /// <item>micro-tile 8 x 48 (24 of the 32 vector registers as accumulators; the one micro-kernel written);</item>
    /// <item>K block: the largest multiple of 32 up to 256 whose A block (512 rows x kc floats, packed) fills at most half of
    /// L2, at least 64: 256 for an L2 of 1 MiB or more, 128 for 512 KiB. Not bounded by L1: on a Zen 4 core (32 KiB L1d) the
    /// micro-kernel ran at the same 117-118 GFLOP/s for every kc from 64 to 256, its 48 KiB B panel at 256 streaming from L2,
    /// so the longest block wins (fewer passes over C);</item>
    /// <item>N block: at most 4 micro-panels (192 columns) per work item, whatever the caches (the packed A block is reused
    /// panel by panel, so the item's width does not change what stays in cache); fewer where a GEMM has too few panels for
    /// 8 items per core (<see cref="CpuGemm.PanelsPerChunkFor"/>), for balance between the cores;</item>
    /// <item>im2col by masked loads where AVX-512 is (a masked load costs a plain load on Intel and AMD), row runs elsewhere;</item>
    /// <item>Winograd weight gradient from <see cref="WinogradWeightGradientMinChannelsMeasured"/> channels in and out on
    /// AVX-512 (measured faster there), never without it (<see cref="WinogradWeightGradientOff"/>);</item>
    /// <item>weight-gradient group: the six col rows of a tile in at most 3/4 of L1d, a multiple of 256 pixels, at least 256:
    /// 1024 pixels for 32 KiB, 1536 for 48 KiB (on Zen 4 the 4 x 6 micro-kernel ran at 103 GFLOP/s one thread at 256 pixels,
    /// 113 at 1024, 114 at 1536); dy rows kept in half of L2, col rows in a quarter.</item>
    /// <item>Winograd F(2x2, 3x3) for 3x3 stride-1 padding-1 convolutions with at least <see cref="WinogradMinChannels"/> channels in and out, on
    /// AVX-512 only (its transforms are written with the two-source permute; without it they would be emulated); a block of
    /// tiles' V and M (16 (Cin + Cout) floats per tile) in at most one L2.</item>
    /// </list>
    /// </summary>
    public static CpuKernelPlan For(CpuCacheDescription cpu)
    {
        int kBlock = (int)Math.Clamp(cpu.L2Bytes / 2 / (LargestGemmRows * sizeof(float)) / 32 * 32, 64, 256);
        long usableL1 = cpu.L1DataBytes * 3 / 4;
        int groupPixels = (int)Math.Max(256, usableL1 / (WeightGradientColRows * sizeof(float)) / 256 * 256);
        int dyBlock = (int)Math.Clamp(cpu.L2Bytes / 2, 128 * 1024, 64L * 1024 * 1024);
        int columnBlock = (int)Math.Clamp(cpu.L2Bytes / 4, 64 * 1024, 32L * 1024 * 1024);
        return new CpuKernelPlan(CpuGemm.MR, CpuGemm.NR, kBlock, 4, cpu.Avx512 ? Im2colStrategy.MaskedLoads : Im2colStrategy.RowRuns,
            groupPixels, dyBlock, columnBlock, cpu.Avx512 ? WinogradMinChannelsMeasured : int.MaxValue,
            (int)Math.Clamp(cpu.L2Bytes, 256 * 1024, 64L * 1024 * 1024),
            cpu.Avx512 ? WinogradWeightGradientMinChannelsMeasured : WinogradWeightGradientOff);
    }

    /// <summary>
    /// The fewest input and output channels for which Winograd beat the direct GEMM convolution. Measured on Zen 4 at batch 64
    /// (process CPU time, best of 6, shared machine): 16 channels 32x32 lost (16.1 ms against 5.5: GEMMs of K 16 are mostly
    /// overhead), 32 channels won (32x32 12.3 against 17.3 ms, 16x16 3.7 against 4.5), 48 channels 16x16 won (6.3 against
    /// 9.0), and 64 to 512 channels won 1.5-2x (bench-kernels).
    /// </summary>
    public const int WinogradMinChannelsMeasured = 32;

    /// <summary>Whether the convolution (and, with the channels swapped, its backward-input) runs by Winograd F(2x2, 3x3).</summary>
    public bool UsesWinograd(int k, int stride, int pad, int cin, int cout)
        => k == 3 && stride == 1 && pad == 1 && cin >= WinogradMinChannels && cout >= WinogradMinChannels;

    /// <summary>
    /// Tiles per work item of a Winograd convolution: as many whole GEMM panels (48 columns) as keep V and M
    /// (16 (cin + cout) floats per tile) within <see cref="WinogradBlockBytes"/>, at most 480, at least one panel, and no more
    /// than gives every worker 4 items.
    /// </summary>
    public int WinogradTilesPerBlock(int cin, int cout, long tiles, int workers)
    {
        const int panel = CpuGemm.NR;
        long byCache = WinogradBlockBytes / (16L * (cin + cout) * sizeof(float)) / panel * panel;
        long byBalance = (tiles + 4L * workers - 1) / (4L * workers);
        byBalance = (byBalance + panel - 1) / panel * panel;
        return (int)Math.Max(panel, Math.Min(Math.Min(byCache, 10 * panel), byBalance));
    }

    /// <summary>
    /// Whether the weight gradient of <paramref name="s"/> runs by Winograd F(2x2, 3x3) (<see cref="CpuWinogradWeightGradient"/>)
    /// rather than directly (<see cref="CpuConvWeightGradient"/>): a 3x3 stride-1 pad-1 convolution with Cin and Cout both at
    /// least <see cref="WinogradWeightGradientMinChannels"/>.
    /// </summary>
    public bool UsesWinogradWeightGradient(Tensors.ConvShape s)
        => CpuWinogradWeightGradient.Applies(s) && s.Cin >= WinogradWeightGradientMinChannels && s.Cout >= WinogradWeightGradientMinChannels;

    /// <summary>One line for `bench`: "GEMM micro-tile 8x48, K block 128, N block 4 x 48 columns; im2col ...".</summary>
    public override string ToString()
        => $"GEMM micro-tile {MicroTileRows}x{MicroTileColumns}, K block {GemmKBlock}, N block {GemmPanelsPerChunk} x {MicroTileColumns} columns; " +
           $"im2col {(Im2col == Im2colStrategy.MaskedLoads ? "masked loads" : "row runs")}; weight gradient groups of {WeightGradientGroupPixels} pixels, " +
           $"dy block {WeightGradientDyBlockBytes / 1024} KiB, col block {WeightGradientColumnBlockBytes / 1024} KiB; " +
           (WinogradMinChannels == int.MaxValue ? "no Winograd"
               : $"Winograd F(2x2,3x3) for 3x3 stride 1 with >= {WinogradMinChannels} channels, blocks of {WinogradBlockBytes / 1024} KiB") +
           (WinogradWeightGradientMinChannels == int.MaxValue ? "; no Winograd weight gradient"
               : $"; Winograd weight gradient for 3x3 stride 1 with >= {WinogradWeightGradientMinChannels} channels");
}
