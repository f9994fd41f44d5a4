using System.Globalization;
using System.Runtime.InteropServices;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;

// ResNet18's stride-2 convolutions (CIFAR, width 64) on the CPU path, forward, backward-input and backward-weight, each the
// least process CPU time per call (both cores, clock_gettime(CLOCK_PROCESS_CPUTIME_ID)) of REPEATS runs of calls after two
// warm-up calls, with GFLOP/s per CPU-second (the direct convolution's 2 N Cout Cin K K OH OW flops).
// ONLY: the convolutions whose name starts with it (e.g. "layer2 64"), and DIRECTIONS: any of f, i, w (forward, backward-input,
// backward-weight; a direction left out prints 0).
//   stride-two [BATCH=64] [REPEATS=5] [ONLY=all] [DIRECTIONS=fiw]
int batch = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 64;
int repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
string only = args.Length > 2 && args[2] != "all" ? args[2] : "";
string directions = args.Length > 3 ? args[3] : "fiw";
if (batch < 1 || repeats < 1) { Console.Error.WriteLine("stride-two: BATCH and REPEATS must be at least 1"); return 2; }
Console.WriteLine($"cpu: {CpuModel.Name}; batch {batch}, least of {repeats}; load average {File.ReadAllText("/proc/loadavg").Trim()}");
using var ops = new CpuOps();
var rng = new Random(0);
foreach (var (name, cin, h, cout, k, stride, pad, _) in CpuOpsBenchmark.ResNet18Convs)
{
    if (stride != 2 || !name.StartsWith(only, StringComparison.Ordinal)) continue;
    var s = new ConvShape(batch, cin, h, h, cout, k, stride, pad);
    using var operands = CpuOpsBenchmark.RandomConvOperands(ops, s, rng);
    var (x, w, y) = (operands.X, operands.W, operands.Y);
    double flops = 2.0 * s.Macs;
    double f = directions.Contains('f') ? Least(() => ops.Conv2dForward(s, x.All, w.All, y.All)) : 0;
    double bi = directions.Contains('i') ? Least(() => ops.Conv2dBackwardInput(s, y.All, w.All, x.All)) : 0;
    double bw = directions.Contains('w') ? Least(() => ops.Conv2dBackwardWeight(s, x.All, y.All, w.All)) : 0;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name,-28} fwd {f * 1e3,7:F2} ms {flops / f / 1e9,6:F1} GF/s   bwd-in {bi * 1e3,7:F2} ms {flops / bi / 1e9,6:F1} GF/s   bwd-w {bw * 1e3,7:F2} ms {flops / bw / 1e9,6:F1} GF/s"));
}
return 0;

// The least over REPEATS measurements of the CPU time per call, each measurement a run of calls lasting about 0.2 s: the
// process CPU clock counts another core's running thread only up to its last scheduler tick (a few ms), so a single call of
// a few ms would be measured short by up to a tick, and the least of several would pick the shortest-counted.
double Least(Action action)
{
    double t0 = CpuSeconds();
    for (int i = 0; i < 2; i++) action();
    int calls = (int)Math.Clamp(0.2 / ((CpuSeconds() - t0) / 2), 1, 200);
    double best = double.MaxValue;
    for (int r = 0; r < repeats; r++)
    {
        t0 = CpuSeconds();
        for (int i = 0; i < calls; i++) action();
        best = Math.Min(best, (CpuSeconds() - t0) / calls);
    }
    return best;
}

static double CpuSeconds() => ClockGetTime(2, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : double.NaN;

[DllImport("libc", EntryPoint = "clock_gettime")]
static extern int ClockGetTime(int clock, out TimeSpec time);

struct TimeSpec { public long Seconds, Nanoseconds; }
