using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Unlearning;

// The training step of `bench --device cpu` (ResNet18, random images, Nesterov SGD), every op call timed: wall-clock and
// process CPU time (both cores; what other work on a shared machine does not lengthen), per op and shape, per step.
//   step-ops [BATCH=64] [STEPS=5]   (after 2 warm-up steps)
int batch = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 64;
int steps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
if (batch < 1 || steps < 1) { Console.Error.WriteLine("step-ops: BATCH and STEPS must be at least 1"); return 2; }
using var inner = new CpuOps();
var ops = new TimedOps(inner);
using var model = new ResNet18(ops, ResNet18Config.Cifar10, batch);
using var step = new TrainingStep(ops, model);
var random = new Random(1);
var pixels = new byte[batch * 3 * 32 * 32];
var labels = new int[batch];
random.NextBytes(pixels);
for (int i = 0; i < batch; i++) labels[i] = random.Next(10);
ModelState.Load(model, RandomInit.State(model.Layout, seed: 1));
var settings = new SgdUpdate(0.1f, 0.9f, 5e-4f, Nesterov: true, Clip: 0);
for (int i = 0; i < 2; i++) step.Step(new HostBatch(pixels, labels, default, batch), BatchLoss.Descent, settings);
ops.Reset();
var clock = Stopwatch.StartNew();
double cpu0 = TimedOps.ProcessCpuSeconds();
for (int i = 0; i < steps; i++) step.Step(new HostBatch(pixels, labels, default, batch), BatchLoss.Descent, settings);
double wall = clock.Elapsed.TotalSeconds / steps, cpu = (TimedOps.ProcessCpuSeconds() - cpu0) / steps;
Console.WriteLine($"cpu: {CpuModel.Name}; batch {batch}, {steps} steps; load average {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine($"step: {wall * 1e3:F1} ms wall, {cpu * 1e3:F1} ms process CPU");
ops.Print(Console.Out, steps);
// The result of the steps, to check that a change keeps the numerics bit for bit.
Console.WriteLine($"parameters {Fingerprint(inner, model.Parameters.All)}, running statistics {Fingerprint(inner, model.RunningStats.All)}");
return 0;

static string Fingerprint(IOps ops, Slice<float> values)
{
    var host = new float[values.Length];
    ops.Download(values, host);
    return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(MemoryMarshal.AsBytes(host.AsSpan())))[..16];
}

/// <summary>The CPU ops, each call timed under a name of the op and its shape.</summary>
sealed class TimedOps(CpuOps o) : IOps
{
    readonly Dictionary<string, (double Wall, double Cpu, int Calls)> times = [];

    public void Reset() => times.Clear();

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);
    struct TimeSpec { public long Seconds, Nanoseconds; }

    /// <summary>clock_gettime(CLOCK_PROCESS_CPUTIME_ID): the CPU seconds of all this process's threads.</summary>
    public static double ProcessCpuSeconds() => ClockGetTime(2, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : double.NaN;

    void Time(string name, Action op)
    {
        double cpu = ProcessCpuSeconds();
        long start = Stopwatch.GetTimestamp();
        op();
        double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        cpu = ProcessCpuSeconds() - cpu;
        times.TryGetValue(name, out var t);
        times[name] = (t.Wall + wall, t.Cpu + cpu, t.Calls + 1);
    }

    /// <summary>Per op and shape, then per part of the step: ms per step (wall, process CPU) and calls per step.</summary>
    public void Print(TextWriter output, int steps)
    {
        output.WriteLine($"{"op and shape",-40} {"wall ms",9} {"CPU ms",9} {"calls",6}");
        foreach (var (name, t) in times.OrderByDescending(kv => kv.Value.Cpu))
            output.WriteLine($"{name,-40} {t.Wall / steps * 1e3,9:F2} {t.Cpu / steps * 1e3,9:F2} {t.Calls / steps,6}");
        output.WriteLine("per part of the step:");
        foreach (var part in times.GroupBy(kv => Part(kv.Key)).OrderByDescending(g => g.Sum(kv => kv.Value.Cpu)))
            output.WriteLine($"  {part.Key,-38} {part.Sum(kv => kv.Value.Wall) / steps * 1e3,9:F2} {part.Sum(kv => kv.Value.Cpu) / steps * 1e3,9:F2}");
    }

    static string Part(string name) =>
        name.StartsWith("conv", StringComparison.Ordinal)
            ? name.Contains(" 3->", StringComparison.Ordinal) ? "stem convolution"
            : name.Contains("k3 s1", StringComparison.Ordinal) ? "3x3 stride-1 convolutions"
            : name.Contains("k3 s2", StringComparison.Ordinal) ? "3x3 stride-2 convolutions" : "1x1 stride-2 convolutions"
        : name.StartsWith("batchnorm", StringComparison.Ordinal) || name.StartsWith("relu", StringComparison.Ordinal) || name.StartsWith("add", StringComparison.Ordinal)
            ? "BatchNorm, ReLU, adds"
        : name.StartsWith("optimiser", StringComparison.Ordinal) ? "optimiser" : "head, input";

    static string C(ConvShape s) => $"{s.Cin}->{s.Cout} {s.H}x{s.W} k{s.K} s{s.Stride}";
    static string B(BatchNormShape s) => $"{s.C}x{s.HW}";

    public string Name => o.Name;
    public long AllocatedBytes => o.AllocatedBytes;
    public long PeakAllocatedBytes => o.PeakAllocatedBytes;
    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => o.Allocate<T>(length);
    public void Upload<T>(ReadOnlySpan<T> source, Slice<T> destination) where T : unmanaged => o.Upload(source, destination);
    public void Download<T>(Slice<T> source, Span<T> destination) where T : unmanaged => o.Download(source, destination);
    public void Fill(Slice<float> destination, float value) => Time("fill", () => o.Fill(destination, value));
    public void Synchronize() => o.Synchronize();
    public void LoadImages(int n, int h, int w, Slice<byte> pixels, Slice<int>? augment, int pad, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> std, Slice<float> x)
    {
        float[] m = mean.ToArray(), sd = std.ToArray();
        Time("load images", () => o.LoadImages(n, h, w, pixels, augment, pad, m, sd, x));
    }
    public void Conv2dForward(ConvShape s, Slice<float> x, Slice<float> w, Slice<float> y) =>
        Time("conv forward " + C(s), () => o.Conv2dForward(s, x, w, y));
    public void Conv2dBackwardInput(ConvShape s, Slice<float> dy, Slice<float> w, Slice<float> dx) =>
        Time("conv backward-input " + C(s), () => o.Conv2dBackwardInput(s, dy, w, dx));
    public void Conv2dBackwardWeight(ConvShape s, Slice<float> x, Slice<float> dy, Slice<float> dw) =>
        Time("conv backward-weight " + C(s), () => o.Conv2dBackwardWeight(s, x, dy, dw));
    public void BatchNormTrainForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> runningMean,
        Slice<float> runningVar, float momentum, float eps, Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd) =>
        Time("batchnorm forward " + B(s), () => o.BatchNormTrainForward(s, x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd));
    public void BatchNormEvalForward(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> runningMean,
        Slice<float> runningVar, float eps, Slice<float> y) =>
        Time("batchnorm eval forward " + B(s), () => o.BatchNormEvalForward(s, x, gamma, beta, runningMean, runningVar, eps, y));
    public void BatchNormApply(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> saveMean,
        Slice<float> saveInvStd, Slice<float> y) =>
        Time("batchnorm apply " + B(s), () => o.BatchNormApply(s, x, gamma, beta, saveMean, saveInvStd, y));
    public void BatchNormBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma, Slice<float> saveMean,
        Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta) =>
        Time("batchnorm backward " + B(s), () => o.BatchNormBackward(s, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta));
    public void BatchNormEvalStatistics(int channels, Slice<float> runningMean, Slice<float> runningVar, float eps, Slice<float> saveMean,
        Slice<float> saveInvStd) => o.BatchNormEvalStatistics(channels, runningMean, runningVar, eps, saveMean, saveInvStd);
    public void BatchNormEvalBackward(BatchNormShape s, Slice<float> x, Slice<float> dy, Slice<float> gamma, Slice<float> saveMean,
        Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta) =>
        Time("batchnorm eval backward " + B(s), () => o.BatchNormEvalBackward(s, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta));
    public void BatchNormTrainForwardRelu(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> runningMean,
        Slice<float> runningVar, float momentum, float eps, Slice<float> y, Slice<float> saveMean, Slice<float> saveInvStd, Slice<float>? residual) =>
        Time((residual is null ? "batchnorm+relu forward " : "batchnorm+add+relu forward ") + B(s),
            () => o.BatchNormTrainForwardRelu(s, x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd, residual));
    public void BatchNormApplyRelu(BatchNormShape s, Slice<float> x, Slice<float> gamma, Slice<float> beta, Slice<float> saveMean,
        Slice<float> saveInvStd, Slice<float> y, Slice<float>? residual) =>
        Time("batchnorm+relu apply " + B(s), () => o.BatchNormApplyRelu(s, x, gamma, beta, saveMean, saveInvStd, y, residual));
    public void BatchNormReluBackward(BatchNormShape s, Slice<float> x, Slice<float> y, Slice<float> dy, Slice<float> gamma, Slice<float> beta,
        Slice<float> saveMean, Slice<float> saveInvStd, Slice<float> dx, Slice<float> dgamma, Slice<float> dbeta) =>
        Time("batchnorm+relu backward " + B(s), () => o.BatchNormReluBackward(s, x, y, dy, gamma, beta, saveMean, saveInvStd, dx, dgamma, dbeta));
    public void ReluForward(Slice<float> x, Slice<float> y) => Time($"relu forward {x.Length}", () => o.ReluForward(x, y));
    public void ReluBackward(Slice<float> y, Slice<float> dy, Slice<float> dx) => Time($"relu backward {y.Length}", () => o.ReluBackward(y, dy, dx));
    public void Add(Slice<float> a, Slice<float> b, Slice<float> y) => Time($"add {a.Length}", () => o.Add(a, b, y));
    public void Multiply(Slice<float> a, Slice<float> b, Slice<float> y) => Time($"multiply {a.Length}", () => o.Multiply(a, b, y));
    public void AddScaledSign(Slice<float> g, Slice<float> p, float scale) => Time("optimiser add scaled sign", () => o.AddScaledSign(g, p, scale));
    public void GlobalAvgPoolForward(int n, int c, int hw, Slice<float> x, Slice<float> y) =>
        Time("head pool forward", () => o.GlobalAvgPoolForward(n, c, hw, x, y));
    public void GlobalAvgPoolBackward(int n, int c, int hw, Slice<float> dy, Slice<float> dx) =>
        Time("head pool backward", () => o.GlobalAvgPoolBackward(n, c, hw, dy, dx));
    public void LinearForward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> b, Slice<float> y) =>
        Time("head linear forward", () => o.LinearForward(s, x, w, b, y));
    public void LinearBackward(LinearShape s, Slice<float> x, Slice<float> w, Slice<float> dy, Slice<float> dx, Slice<float> dw, Slice<float> db) =>
        Time("head linear backward", () => o.LinearBackward(s, x, w, dy, dx, dw, db));
    public void SoftmaxNllLoss(int n, int classes, Slice<float> logits, Slice<int> labels, float scale, Slice<float> loss, Slice<float> dlogits) =>
        Time("head softmax NLL", () => o.SoftmaxNllLoss(n, classes, logits, labels, scale, loss, dlogits));
    public void KlDivergence(int n, int classes, Slice<float> studentLogits, Slice<float> teacherLogits, float temperature, float scale,
        Slice<float> loss, Slice<float> dStudentLogits, bool accumulate) =>
        Time("head KL", () => o.KlDivergence(n, classes, studentLogits, teacherLogits, temperature, scale, loss, dStudentLogits, accumulate));
    public void CombineGradients(Slice<float> gRetain, Slice<float> gForget, float retainScale, float forgetScale, Slice<float> g) =>
        Time("optimiser combine", () => o.CombineGradients(gRetain, gForget, retainScale, forgetScale, g));
    public void SumOfSquares(Slice<float> g, Slice<float> result) => Time("optimiser sum of squares", () => o.SumOfSquares(g, result));
    public void ClipAndSgdStep(Slice<float> p, Slice<float> g, Slice<float> m, Slice<float> sumOfSquares, SgdUpdate update, bool firstStep,
        Slice<float>? updateMask = null) =>
        Time("optimiser clip + SGD", () => o.ClipAndSgdStep(p, g, m, sumOfSquares, update, firstStep, updateMask));
    public void Dispose() { }
}
