using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IlgpuUnlearn.Cpu;

/// <summary>The machine a CPU benchmark ran on, and the most it could do, so that every figure says how close to the limit it is.</summary>
public static class CpuModel
{
    /// <summary>
    /// "AMD EPYC (family 26 model 2), 2 threads, AVX-512": /proc/cpuinfo's model name with its family and model numbers (a
    /// virtual machine often shows only the vendor's brand), the threads the ops use and the widest vector the JIT emits.
    /// </summary>
    public static string Name { get; } = Describe();

    static string Describe()
    {
        string model = "unknown CPU", family = "", number = "";
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                int colon = line.IndexOf(':');
                if (colon < 0) continue;
                string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                if (key == "model name" && model == "unknown CPU") model = value;
                else if (key == "cpu family" && family == "") family = value;
                else if (key == "model" && number == "") number = value;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        string isa = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "SIMD";
        string id = family != "" ? $" (family {family} model {number})" : "";
        return $"{model}{id}, {Environment.ProcessorCount} threads, {isa}";
    }

    /// <summary>
    /// The fp32 FMA throughput all threads reach together, in GFLOP/s (one FMA = 2 flops): every thread at once runs bursts of
    /// 12 independent chains of 16-lane FMAs (enough to cover a 4-cycle latency on two FMA pipes), about 10 microseconds each,
    /// for about <paramref name="seconds"/>; each thread's fastest burst gives its rate, and the rates are summed. The fastest
    /// burst is one the scheduler did not interrupt, so the figure is the hardware's even on a machine shared with other work.
    /// </summary>
    public static double MeasureFmaPeakGflops(double seconds = 0.2) => MeasureFmaPeakGflops(Environment.ProcessorCount, seconds);

    /// <summary>The same on <paramref name="threads"/> threads (1: one core's peak).</summary>
    public static double MeasureFmaPeakGflops(int threads, double seconds)
    {
        const int burst = 1024;
        var rates = new double[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, thread =>
        {
            long fastest = long.MaxValue;
            var deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
            float sink = 0;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                long start = Stopwatch.GetTimestamp();
                sink += FmaChains(burst);
                fastest = Math.Min(fastest, Stopwatch.GetTimestamp() - start);
            }
            if (sink == 1234.5f) Console.Write(""); // keeps the result alive
            rates[thread] = burst * 12.0 * 16 * 2 / (Math.Max(1, fastest) / (double)Stopwatch.Frequency) / 1e9;
        });
        return rates.Sum();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float FmaChains(int count)
    {
        var m = Vector512.Create(0.999f);
        var a = Vector512.Create(1e-3f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (int i = 0; i < count; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, m, a); c1 = Vector512.FusedMultiplyAdd(c1, m, a);
            c2 = Vector512.FusedMultiplyAdd(c2, m, a); c3 = Vector512.FusedMultiplyAdd(c3, m, a);
            c4 = Vector512.FusedMultiplyAdd(c4, m, a); c5 = Vector512.FusedMultiplyAdd(c5, m, a);
            c6 = Vector512.FusedMultiplyAdd(c6, m, a); c7 = Vector512.FusedMultiplyAdd(c7, m, a);
            c8 = Vector512.FusedMultiplyAdd(c8, m, a); c9 = Vector512.FusedMultiplyAdd(c9, m, a);
            c10 = Vector512.FusedMultiplyAdd(c10, m, a); c11 = Vector512.FusedMultiplyAdd(c11, m, a);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }
}
