using System.Diagnostics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// Speed of the CPU path: the GEMM micro-kernel alone, the packed GEMM, and every ResNet18 (CIFAR, width 64, 32x32)
/// convolution forward, backward-input and backward-weight, printed as milliseconds and GFLOP/s, best of several runs, and
/// the convolutions' share of the FMA peak by process CPU time. The FLOPs counted are the direct convolution's (2 N Cout Cin K K
/// OH OW) whatever the algorithm: the shapes the plan sends to Winograd F(2x2, 3x3) do up to 2.25x fewer, so their rate is an
/// effective one and may pass the peak.
/// bench/cpu/torch_convs.py prints the same table for PyTorch.
/// </summary>
public static unsafe class CpuOpsBenchmark
{
    /// <summary>(name, Cin, H, Cout, K, stride, pad, uses per training step), as in bench/cpu/torch_convs.py.</summary>
    public static readonly (string Name, int Cin, int H, int Cout, int K, int Stride, int Pad, int Uses)[] ResNet18Convs =
    [
        ("conv1 3->64 32x32", 3, 32, 64, 3, 1, 1, 1),
        ("layer1 64->64 32x32", 64, 32, 64, 3, 1, 1, 4),
        ("layer2 64->128 s2", 64, 32, 128, 3, 2, 1, 1),
        ("layer2 128->128 16x16", 128, 16, 128, 3, 1, 1, 3),
        ("layer2 ds 1x1 64->128 s2", 64, 32, 128, 1, 2, 0, 1),
        ("layer3 128->256 s2", 128, 16, 256, 3, 2, 1, 1),
        ("layer3 256->256 8x8", 256, 8, 256, 3, 1, 1, 3),
        ("layer3 ds 1x1 128->256 s2", 128, 16, 256, 1, 2, 0, 1),
        ("layer4 256->512 s2", 256, 8, 512, 3, 2, 1, 1),
        ("layer4 512->512 4x4", 512, 4, 512, 3, 1, 1, 3),
        ("layer4 ds 1x1 256->512 s2", 256, 8, 512, 1, 2, 0, 1),
    ];

    /// <summary>The operands of one convolution (x, w, y), disposed together.</summary>
    public sealed record ConvOperands(DeviceBuffer<float> X, DeviceBuffer<float> W, DeviceBuffer<float> Y) : IDisposable
    {
        public void Dispose()
        {
            X.Dispose();
            W.Dispose();
            Y.Dispose();
        }
    }

    /// <summary>
    /// The operands of convolution <paramref name="s"/> on <paramref name="ops"/>: x (N, Cin, H, W), w (Cout, Cin, K, K) and
    /// y (N, Cout, OH, OW), each filled uniformly in [-0.5, 0.5) from <paramref name="rng"/>.
    /// </summary>
    public static ConvOperands RandomConvOperands(CpuOps ops, ConvShape s, Random rng)
    {
        var operands = new ConvOperands(ops.Allocate<float>(s.InputLength), ops.Allocate<float>(s.WeightLength), ops.Allocate<float>(s.OutputLength));
        foreach (var buffer in new[] { operands.X, operands.W, operands.Y })
        {
            var span = CpuOps.Span(buffer.All);
            for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() - 0.5);
        }
        return operands;
    }

    public static void Run(TextWriter output, int batch = 64, int repeats = 5, string? only = null)
    {
        output.WriteLine($"CpuOps benchmark: {Environment.ProcessorCount} threads, batch {batch}, best of {repeats}");
        output.WriteLine($"cpu caches: {CpuCacheDescription.ThisMachine}");
        output.WriteLine($"kernel plan: {CpuKernelPlan.Current}");
        if (only is null or "gemm") RunGemm(output, repeats);
        double convs = 0, others = 0;
        if (only is null or "conv") convs = RunConvs(output, batch, repeats);
        if (only is null or "other") others = RunOtherOps(output, batch, repeats);
        if (only is null)
        {
            double step = convs + others;
            output.WriteLine($"one training step (batch {batch}) estimated from the parts: {step * 1e3:F1} ms = {batch / step:F1} images/s");
        }
    }

    /// <summary>
    /// The memory-bound ops of one ResNet18 training step at batch <paramref name="batch"/>, in the mix the model calls them
    /// (ResNet18.cs): per block bn1 + ReLU (fused forward, fused backward), bn2 + shortcut + ReLU (fused forward, plain
    /// backward), the recomputation of relu(bn1), the block output's ReLU backward and the shortcut's gradient add, and the
    /// downsample BatchNorm where the stage starts with one; the stem's bn + ReLU and its recomputation; the optimiser over all
    /// parameters. Returns the seconds they take together.
    /// </summary>
    public static double RunOtherOps(TextWriter output, int batch, int repeats)
    {
        using var ops = new CpuOps();
        IOps iops = ops;
        // (C, HW, blocks, downsample) per stage: stem (no block), layer1 .. layer4.
        var stages = new (int C, int HW, int Blocks, bool Downsample)[]
            { (64, 1024, 0, false), (64, 1024, 2, false), (128, 256, 2, true), (256, 64, 2, true), (512, 16, 2, true) };
        double total = 0;
        foreach (var (c, hw, blocks, downsample) in stages)
        {
            var s = new BatchNormShape(batch, c, hw);
            using var x = ops.Allocate<float>(s.Length);
            using var y = ops.Allocate<float>(s.Length);
            using var dy = ops.Allocate<float>(s.Length);
            using var dx = ops.Allocate<float>(s.Length);
            using var parameters = ops.Allocate<float>(6L * c);
            var rng = new Random(0);
            foreach (var buffer in new[] { x, dy })
            {
                var span = CpuOps.Span(buffer.All);
                for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() - 0.5);
            }
            ops.Fill(parameters.All, 1f);
            Slice<float> P(int i) => parameters.At((long)i * c, c);
            double bnRelu = Best(repeats, () =>
            {
                iops.BatchNormTrainForwardRelu(s, x.All, P(0), P(1), P(2), P(3), 0.1f, 1e-5f, y.All, P(4), P(5), null);
                iops.BatchNormReluBackward(s, x.All, y.All, dy.All, P(0), P(1), P(4), P(5), dx.All, P(2), P(3));
            });
            double bnAddRelu = Best(repeats, () =>
            {
                iops.BatchNormTrainForwardRelu(s, x.All, P(0), P(1), P(2), P(3), 0.1f, 1e-5f, y.All, P(4), P(5), dy.All);
                ops.BatchNormBackward(s, x.All, dy.All, P(0), P(4), P(5), dx.All, P(2), P(3));
            });
            double recompute = Best(repeats, () => iops.BatchNormApplyRelu(s, x.All, P(0), P(1), P(4), P(5), y.All, null));
            double bn = Best(repeats, () =>
            {
                ops.BatchNormTrainForward(s, x.All, P(0), P(1), P(2), P(3), 0.1f, 1e-5f, y.All, P(4), P(5));
                ops.BatchNormBackward(s, x.All, dy.All, P(0), P(4), P(5), dx.All, P(2), P(3));
            });
            double relu = Best(repeats, () => ops.ReluBackward(y.All, dy.All, dx.All));
            double add = Best(repeats, () => ops.Add(dx.All, dy.All, dx.All));
            double stage = blocks == 0
                ? bnRelu + recompute
                : blocks * (bnRelu + bnAddRelu + recompute + relu + add) + (downsample ? bn : 0);
            total += stage;
            output.WriteLine($"{c,4} channels x {hw,4} pixels: BatchNorm+ReLU fwd+bwd {bnRelu * 1e3:F2} ms, BatchNorm+add+ReLU fwd, " +
                             $"BatchNorm bwd {bnAddRelu * 1e3:F2} ms, recompute {recompute * 1e3:F2} ms, BatchNorm fwd+bwd {bn * 1e3:F2} ms, " +
                             $"ReLU bwd {relu * 1e3:F2} ms, add {add * 1e3:F2} ms; stage total {stage * 1e3:F1} ms");
        }
        const long parameterCount = 11_173_962;
        using (var p = ops.Allocate<float>(parameterCount))
        using (var g = ops.Allocate<float>(parameterCount))
        using (var g2 = ops.Allocate<float>(parameterCount))
        using (var m = ops.Allocate<float>(parameterCount))
        using (var sumOfSquares = ops.Allocate<float>(1))
        {
            var settings = new SgdUpdate(0.1f, 0.9f, 5e-4f, true, 0.5f);
            double optimiser = Best(repeats, () =>
            {
                ops.CombineGradients(g.All, g2.All, 0.85f, -0.15f, g.All);
                ops.SumOfSquares(g.All, sumOfSquares.All);
                ops.ClipAndSgdStep(p.All, g.All, m.All, sumOfSquares.All, settings, firstStep: false);
            });
            total += optimiser;
            output.WriteLine($"optimiser over {parameterCount} parameters (combine, sum of squares, clip + SGD): {optimiser * 1e3:F1} ms");
        }
        output.WriteLine($"memory-bound ops of one training step: {total * 1e3:F1} ms");
        return total;
    }

    /// <summary>The micro-kernel on L1-resident panels (one thread), then whole GEMMs of convolution-like sizes.</summary>
    public static void RunGemm(TextWriter output, int repeats)
    {
        int kc = CpuGemm.MaxKc;
        var a = GC.AllocateArray<float>(kc * CpuGemm.MR, pinned: true);
        var b = GC.AllocateArray<float>(kc * CpuGemm.NR, pinned: true);
        var c = GC.AllocateArray<float>(CpuGemm.MR * CpuGemm.NR, pinned: true);
        Array.Fill(a, 0.001f);
        Array.Fill(b, 0.001f);
        fixed (float* pa = a, pb = b, pc = c)
        {
            const int calls = 20000;
            double best = double.MaxValue;
            for (int r = 0; r < repeats + 1; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++) CpuGemm.Kernel8x48(pa, pb, kc, pc, pc + 16, pc + 32, CpuGemm.NR, accumulate: i > 0);
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            double flops = 2.0 * CpuGemm.MR * CpuGemm.NR * kc * calls;
            output.WriteLine($"micro-kernel {CpuGemm.MR}x{CpuGemm.NR}, kc {kc}, one thread, L1-resident: {flops / best / 1e9:F1} GFLOP/s");
        }

        var scratch = new CpuScratch();
        foreach (var (m, n, k) in new[] { (64, 4096, 576), (128, 4096, 1152), (256, 4096, 2304), (512, 1024, 4608), (1024, 1024, 1024) })
        {
            var am = GC.AllocateArray<float>(m * k, pinned: true);
            var bm = GC.AllocateArray<float>(k * n, pinned: true);
            var cm = GC.AllocateArray<float>(m * n, pinned: true);
            Array.Fill(am, 0.01f);
            Array.Fill(bm, 0.01f);
            float* pa = Address(am), pb = Address(bm), pc = Address(cm);
            double seconds = Best(repeats, () => CpuGemm.Multiply(m, n, k, pa, pb, pc, scratch));
            GC.KeepAlive(am); // the lambda holds only their addresses: without these the pinned arrays may be collected while in use
            GC.KeepAlive(bm);
            GC.KeepAlive(cm);
            output.WriteLine($"gemm M {m,5} N {n,5} K {k,5}: {seconds * 1e3,8:F2} ms {2.0 * m * n * k / seconds / 1e9,7:F1} GFLOP/s");
        }
    }

    /// <summary>Each ResNet18 convolution at batch <paramref name="batch"/>: forward, backward-input, backward-weight.</summary>
    public static double RunConvs(TextWriter output, int batch, int repeats)
    {
        using var ops = new CpuOps();
        output.WriteLine($"{"shape",-28} {"fwd ms",8} {"GF/s",6} {"bwd-in ms",10} {"GF/s",6} {"bwd-w ms",9} {"GF/s",6}");
        double total = 0, totalCpu = 0, totalFlops = 0;
        var cpuRates = new List<string>();
        var rng = new Random(0);
        foreach (var (name, cin, h, cout, k, stride, pad, uses) in ResNet18Convs)
        {
            var s = new ConvShape(batch, cin, h, h, cout, k, stride, pad);
            using var operands = RandomConvOperands(ops, s, rng);
            var (x, w, y) = (operands.X, operands.W, operands.Y);
            double flops = 2.0 * s.Macs;
            double tf = Best(repeats, () => ops.Conv2dForward(s, x.All, w.All, y.All), out double cf);
            double ti = Best(repeats, () => ops.Conv2dBackwardInput(s, y.All, w.All, x.All), out double ci);
            double tw = Best(repeats, () => ops.Conv2dBackwardWeight(s, x.All, y.All, w.All), out double cw);
            total += uses * (tf + ti + tw);
            totalCpu += uses * (cf + ci + cw);
            totalFlops += uses * 3 * flops;
            cpuRates.Add($"{name,-28} {flops / cf / 1e9,6:F1} {flops / ci / 1e9,6:F1} {flops / cw / 1e9,6:F1}");
            output.WriteLine($"{name,-28} {tf * 1e3,8:F2} {flops / tf / 1e9,6:F1} {ti * 1e3,10:F2} {flops / ti / 1e9,6:F1} {tw * 1e3,9:F2} {flops / tw / 1e9,6:F1}");
        }
        output.WriteLine($"all convolutions of one training step (forward + both backward, each shape times its uses): {total * 1e3:F1} ms");
        // Against the load of a shared machine: the process's CPU time (the least of the timed runs), which the other work
        // does not lengthen (it counts the workers' spinning at the end of a parallel loop, so it flatters nothing).
        output.WriteLine($"{"GFLOP/s per CPU-second",-28} {"fwd",6} {"bwd-in",6} {"bwd-w",6}");
        foreach (var line in cpuRates) output.WriteLine(line);
        double corePeak = CpuModel.MeasureFmaPeakGflops(1, 0.2);
        double perCpuSecond = totalFlops / totalCpu / 1e9;
        output.WriteLine($"the same in CPU time: {totalCpu * 1e3:F1} ms, {perCpuSecond:F1} GFLOP/s per CPU-second = {perCpuSecond / corePeak:P0} " +
                         $"of one core's measured FMA peak ({corePeak:F1} GFLOP/s)");
        if (CpuKernelPlan.Current.WinogradMinChannels != int.MaxValue)
            output.WriteLine("(FLOPs counted as the direct convolution's: the 3x3 stride-1 shapes run by Winograd do up to 2.25x fewer)");
        return total;
    }

    /// <summary>The address of an array allocated on the pinned object heap.</summary>
    private static float* Address(float[] pinned) => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref pinned[0]);

    private static double Best(int repeats, Action action) => Best(repeats, action, out _);

    /// <summary>The least wall-clock seconds of <paramref name="repeats"/> runs after three warm-ups; the least process CPU seconds in <paramref name="cpuSeconds"/>.</summary>
    private static double Best(int repeats, Action action, out double cpuSeconds)
    {
        for (int warmUp = 0; warmUp < 3; warmUp++) action();
        double best = double.MaxValue;
        cpuSeconds = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            double cpu = ProcessCpuSeconds();
            var sw = Stopwatch.StartNew();
            action();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
            cpuSeconds = Math.Min(cpuSeconds, ProcessCpuSeconds() - cpu);
        }
        return best;
    }

    /// <summary>
    /// CPU seconds this process has used: clock_gettime(CLOCK_PROCESS_CPUTIME_ID) on Linux (nanoseconds; Process.TotalProcessorTime
    /// counts 10 ms ticks there, too coarse for one convolution), Process.TotalProcessorTime elsewhere.
    /// </summary>
    private static double ProcessCpuSeconds()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(2 /* CLOCK_PROCESS_CPUTIME_ID */, out var t) == 0) return t.Seconds + t.Nanoseconds * 1e-9;
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);
}
