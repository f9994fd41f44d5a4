using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CommandLine;
using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("bench-kernels", HelpText = "Time every kernel version (convolutions per ResNet18 layer shape, batch norm, ReLU, add, the optimiser) on an ILGPU device: ms and TFLOP/s or GB/s.")]
public sealed class BenchKernelsOptions
{
    [Option("device", Default = "cuda", HelpText = "cuda, ilgpu-cpu (the CPU accelerator: only to prove the command with --batch-size 1 --shapes small), or cpu (the CPU path's GEMM, convolutions and other ops; compare with bench/cpu/torch_convs.py).")]
    public string Device { get; set; } = "cuda";

    [Option("batch-size", Default = 256, HelpText = "Images per batch.")]
    public int BatchSize { get; set; }

    [Option("repeat", Default = 5, HelpText = "Timed runs of each case after one warm-up run; the best is reported.")]
    public int Repeat { get; set; }

    [Option("shapes", Default = "resnet18", HelpText = "resnet18 (widths 64..512 at 32..4) or small (widths 4..32 at 8..1, 11,174 parameters: for the CPU accelerator).")]
    public string Shapes { get; set; } = "resnet18";

    [Option("versions", Default = "all", HelpText = "Comma-separated convolution versions (naive, tiled-dense, tiled, wide, tf32) or all.")]
    public string Versions { get; set; } = "all";

    [Option("max-seconds", Default = 2.0, HelpText = "A case whose warm-up run takes longer is reported from that one run.")]
    public double MaxSeconds { get; set; }

    [Option("json", HelpText = "Also write every measurement to this JSON file.")]
    public string? Json { get; set; }
}

/// <summary>
/// llm.c's dev/cuda benchmarks in one verb: each version of each kernel family timed on the shapes the model runs, so the default
/// is chosen by measurement. A case is one op call through IlgpuOps (launches included: the split-K sum of the weight gradient,
/// the four phases of a strided input gradient), synchronised before and after, warmed up once, best of --repeat.
/// Convolution TFLOP/s count the dense 2 N OH OW Cout Cin K^2 flops for every pass (so a version that skips zeros shows as faster);
/// memory-bound ops count the bytes the minimal algorithm moves.
/// </summary>
internal static class BenchKernelsCommand
{
    private sealed record Measurement(string Family, string Op, string Version, string Shape, double Milliseconds, int Runs, double Rate, string Unit);

    public static int Run(BenchKernelsOptions o)
    {
        if (o.BatchSize < 1 || o.Repeat < 1) throw new UserError("--batch-size and --repeat must be at least 1");
        var kind = Devices.Parse(o.Device);
        if (kind == DeviceKind.Cpu)
        {
            // The CPU path has one version of each op: its GEMM, every ResNet18 convolution and the memory-bound ops, in
            // the format bench/cpu/torch_convs.py prints for PyTorch (bench/cpu/compare.py gives the ratios).
            if (o.Json is not null) throw new UserError("--json: not written for --device cpu (the table is the output; see bench/cpu/compare.py)");
            Console.WriteLine($"cpu: {Cpu.CpuModel.Name}");
            Cpu.CpuOpsBenchmark.Run(Console.Out, o.BatchSize, o.Repeat);
            return 0;
        }
        var shapes = o.Shapes.ToLowerInvariant() switch
        {
            "resnet18" => SelfTestShapes.ResNet18(o.BatchSize),
            "small" => SelfTestShapes.ResNet18(o.BatchSize, baseWidth: 4, imageSize: 8, flatLength: 11_174),
            _ => throw new UserError($"--shapes {o.Shapes}: resnet18 or small"),
        };

        using var baseOps = kind == DeviceKind.Cuda ? Devices.OpenCuda() : Devices.OpenIlgpuCpu();
        bool cuda = kind == DeviceKind.Cuda;
        var wanted = o.Versions.Equals("all", StringComparison.OrdinalIgnoreCase)
            ? null
            : o.Versions.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var convVersions = KernelVersions.Runnable(KernelVersions.Convolution, cuda).Where(v => wanted is null || wanted.Contains(v.Name)).ToList();
        if (wanted is not null && convVersions.Count != wanted.Count)
            throw new UserError($"--versions {o.Versions}: known here are {string.Join(", ", KernelVersions.Runnable(KernelVersions.Convolution, cuda).Select(v => v.Name))}");
        var normVersions = KernelVersions.BatchNorm.Where(v => v.Name != "chunked-7").ToList();

        Console.WriteLine($"bench-kernels: {baseOps.Name}, batch {o.BatchSize}, shapes {o.Shapes}, best of {o.Repeat} after a warm-up");
        foreach (var v in convVersions.Concat(normVersions))
            Console.WriteLine($"  {v.Name,-12} {v.Description}");
        var results = new List<Measurement>();
        void Print(Measurement m)
        {
            results.Add(m);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{m.Op,-22} {m.Version,-12} {m.Shape,-36} {m.Milliseconds,10:F3} ms{(m.Runs == 1 ? "*" : " ")} {m.Rate,10:G4} {m.Unit}"));
        }

        Console.WriteLine();
        Console.WriteLine($"{"convolution",-22} {"version",-12} {"shape (N x Cin x H x W -> Cout)",-36} {"best",13}  {"rate",9}");
        foreach (var v in convVersions)
        {
            using var ops = new IlgpuOps(baseOps.Accelerator, v.Options);
            foreach (var s in shapes.Convolutions)
                foreach (var m in BenchConv(ops, v.Name, s, o))
                    Print(m);
        }

        Console.WriteLine();
        foreach (var v in normVersions)
        {
            using var ops = new IlgpuOps(baseOps.Accelerator, v.Options);
            foreach (var s in shapes.BatchNorms)
                foreach (var m in BenchBatchNorm(ops, v.Name, s, o))
                    Print(m);
        }

        Console.WriteLine();
        foreach (var s in shapes.BatchNorms)
            foreach (var m in BenchElementwise(baseOps, s.Length, o))
                Print(m);
        foreach (var m in BenchOptimizer(baseOps, shapes.FlatLength, o))
            Print(m);
        Console.WriteLine("* one run only: the warm-up took longer than --max-seconds");

        if (o.Json is not null)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["device"] = baseOps.Name, ["batch_size"] = o.BatchSize, ["shapes"] = o.Shapes, ["repeat"] = o.Repeat,
                ["results"] = results.Select(m => new Dictionary<string, object>
                {
                    ["family"] = m.Family, ["op"] = m.Op, ["version"] = m.Version, ["shape"] = m.Shape,
                    ["ms"] = m.Milliseconds, ["runs"] = m.Runs, ["rate"] = m.Rate, ["unit"] = m.Unit,
                }).ToList(),
            }, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            AtomicFile.WriteAllText(o.Json, json + "\n");
        }
        return 0;
    }

    private static IEnumerable<Measurement> BenchConv(IlgpuOps ops, string version, ConvShape s, BenchKernelsOptions o)
    {
        string shape = $"{s.N}x{s.Cin}x{s.H}x{s.W} -> {s.Cout} k{s.K} s{s.Stride}";
        double flops = 2.0 * s.N * s.OutH * s.OutW * s.Cout * s.Cin * s.K * s.K;
        using var x = Random(ops, s.InputLength, 1);
        using var w = Random(ops, s.WeightLength, 2);
        using var dy = Random(ops, s.OutputLength, 3);
        using var y = ops.Allocate<float>(s.OutputLength);
        using var dx = ops.Allocate<float>(s.InputLength);
        using var dw = ops.Allocate<float>(s.WeightLength);
        var passes = new (string Op, Action Call)[]
        {
            ("conv forward", () => ops.Conv2dForward(s, x.All, w.All, y.All)),
            ("conv backward-input", () => ops.Conv2dBackwardInput(s, dy.All, w.All, dx.All)),
            ("conv backward-weight", () => ops.Conv2dBackwardWeight(s, x.All, dy.All, dw.All)),
        };
        foreach (var (op, call) in passes)
        {
            var (ms, runs) = Time(ops, call, o);
            yield return new Measurement("conv", op, version, shape, ms, runs, flops / (ms * 1e-3) / 1e12, "TFLOP/s");
        }
    }

    private static IEnumerable<Measurement> BenchBatchNorm(IlgpuOps ops, string version, BatchNormShape s, BenchKernelsOptions o)
    {
        string shape = $"N {s.N} C {s.C} HW {s.HW}";
        using var x = Random(ops, s.Length, 4);
        using var dy = Random(ops, s.Length, 5);
        using var y = ops.Allocate<float>(s.Length);
        using var dx = ops.Allocate<float>(s.Length);
        using var gamma = Random(ops, s.C, 6);
        using var beta = Random(ops, s.C, 7);
        using var rm = ops.Allocate<float>(s.C);
        using var rv = ops.Allocate<float>(s.C);
        using var mean = ops.Allocate<float>(s.C);
        using var invStd = ops.Allocate<float>(s.C);
        using var dgamma = ops.Allocate<float>(s.C);
        using var dbeta = ops.Allocate<float>(s.C);
        ops.Fill(rv.All, 1f);
        double bytes = 4.0 * s.Length;
        var (ms, runs) = Time(ops, () => ops.BatchNormTrainForward(s, x.All, gamma.All, beta.All, rm.All, rv.All, 0.1f, 1e-5f, y.All, mean.All, invStd.All), o);
        // read x for the statistics, read x and write y to normalise
        yield return new Measurement("batchnorm", "batchnorm train fwd", version, shape, ms, runs, 3 * bytes / (ms * 1e-3) / 1e9, "GB/s");
        (ms, runs) = Time(ops, () => ops.BatchNormBackward(s, x.All, dy.All, gamma.All, mean.All, invStd.All, dx.All, dgamma.All, dbeta.All), o);
        // read x and dy for the sums, read x and dy and write dx
        yield return new Measurement("batchnorm", "batchnorm backward", version, shape, ms, runs, 5 * bytes / (ms * 1e-3) / 1e9, "GB/s");
    }

    private static IEnumerable<Measurement> BenchElementwise(IlgpuOps ops, long length, BenchKernelsOptions o)
    {
        string shape = $"{length:N0} floats";
        using var a = Random(ops, length, 8);
        using var b = Random(ops, length, 9);
        using var y = ops.Allocate<float>(length);
        double bytes = 4.0 * length;
        var (ms, runs) = Time(ops, () => ops.ReluForward(a.All, y.All), o);
        yield return new Measurement("elementwise", "relu forward", "-", shape, ms, runs, 2 * bytes / (ms * 1e-3) / 1e9, "GB/s");
        (ms, runs) = Time(ops, () => ops.ReluBackward(a.All, b.All, y.All), o);
        yield return new Measurement("elementwise", "relu backward", "-", shape, ms, runs, 3 * bytes / (ms * 1e-3) / 1e9, "GB/s");
        (ms, runs) = Time(ops, () => ops.Add(a.All, b.All, y.All), o);
        yield return new Measurement("elementwise", "add", "-", shape, ms, runs, 3 * bytes / (ms * 1e-3) / 1e9, "GB/s");
    }

    private static IEnumerable<Measurement> BenchOptimizer(IlgpuOps ops, long length, BenchKernelsOptions o)
    {
        string shape = $"{length:N0} floats";
        using var p = Random(ops, length, 10);
        using var g = Random(ops, length, 11);
        using var m = ops.Allocate<float>(length);
        using var sum = ops.Allocate<float>(1);
        double bytes = 4.0 * length;
        var (ms, runs) = Time(ops, () => ops.SumOfSquares(g.All, sum.All), o);
        yield return new Measurement("optimizer", "sum of squares", "-", shape, ms, runs, bytes / (ms * 1e-3) / 1e9, "GB/s");
        // Tiny steps so that repeated runs keep the parameters finite.
        var settings = new SgdUpdate(1e-6f, 0.9f, 5e-4f, true, 1f);
        (ms, runs) = Time(ops, () => ops.ClipAndSgdStep(p.All, g.All, m.All, sum.All, settings, firstStep: false), o);
        // read p, g, m; write p, m
        yield return new Measurement("optimizer", "clip + sgd step", "-", shape, ms, runs, 5 * bytes / (ms * 1e-3) / 1e9, "GB/s");
    }

    /// <summary>Best milliseconds of one call over the timed runs, after a synchronised warm-up; one run when the warm-up is slow.</summary>
    private static (double Milliseconds, int Runs) Time(IlgpuOps ops, Action call, BenchKernelsOptions o)
    {
        ops.Synchronize();
        var clock = Stopwatch.StartNew();
        call();
        ops.Synchronize();
        double warmup = clock.Elapsed.TotalMilliseconds;
        if (warmup > o.MaxSeconds * 1e3)
            return (warmup, 1);
        double best = double.MaxValue;
        for (int i = 0; i < o.Repeat; i++)
        {
            clock.Restart();
            call();
            ops.Synchronize();
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
        }
        return (best, o.Repeat);
    }

    private static DeviceBuffer<float> Random(IlgpuOps ops, long length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (long i = 0; i < length; i++)
            values[i] = 2f * random.NextSingle() - 1f;
        var buffer = ops.Allocate<float>(length);
        ops.Upload<float>(values, buffer.All);
        return buffer;
    }
}
