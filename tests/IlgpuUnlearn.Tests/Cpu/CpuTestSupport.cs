using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Tensors;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cpu;

/// <summary>Buffers in and out of a <see cref="CpuOps"/>, random data, and comparisons that print their worst error.</summary>
internal sealed class CpuTestSupport(ITestOutputHelper output) : IDisposable
{
    public CpuOps Ops { get; } = new();
    public ITestOutputHelper Output { get; } = output;

    public Slice<float> Buffer(float[] values)
    {
        var buffer = Ops.Allocate<float>(values.Length);
        Ops.Upload<float>(values, buffer.All);
        return buffer.All;
    }

    public Slice<int> Buffer(int[] values)
    {
        var buffer = Ops.Allocate<int>(values.Length);
        Ops.Upload<int>(values, buffer.All);
        return buffer.All;
    }

    public Slice<float> Zeros(long length) => Ops.Allocate<float>(length).All;

    public static float[] Read(Slice<float> slice) => CpuOps.Span(slice).ToArray();

    public static float[] Random(Random rng, long length, float scale = 1f)
    {
        var values = new float[length];
        for (long i = 0; i < length; i++) values[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return values;
    }

    /// <summary>
    /// Asserts |actual - expected| &lt;= atol + rtol |expected| everywhere and prints the worst absolute error and the
    /// worst error as a fraction of its tolerance.
    /// </summary>
    public void AssertClose(string what, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double atol, double rtol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worstAbs = 0, worstRatio = 0;
        int worstAt = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            double ratio = error / (atol + rtol * Math.Abs(expected[i]));
            if (double.IsNaN(error)) ratio = double.PositiveInfinity;
            worstAbs = Math.Max(worstAbs, error);
            if (ratio > worstRatio) { worstRatio = ratio; worstAt = i; }
        }
        Output.WriteLine($"{what}: {actual.Length} values, worst |error| {worstAbs:E2}, worst error/tolerance {worstRatio:F3} " +
                         $"(atol {atol:E0}, rtol {rtol:E0})");
        if (worstRatio > 1)
            Assert.Fail($"{what}: element {worstAt} is {actual[worstAt]}, expected {expected[worstAt]} (error/tolerance {worstRatio:F2})");
    }

    public void AssertClose(string what, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double atol, double rtol)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        AssertClose(what, actual, e, atol, rtol);
    }

    /// <summary>sum of r y in fp64.</summary>
    public static double Objective(ReadOnlySpan<float> r, ReadOnlySpan<float> y)
    {
        double sum = 0;
        for (int i = 0; i < r.Length; i++) sum += (double)r[i] * y[i];
        return sum;
    }

    /// <summary>
    /// Central differences of <paramref name="objective"/> with respect to up to <paramref name="samples"/> elements of
    /// <paramref name="input"/> (a slice the objective reads), compared with <paramref name="analytic"/>.
    /// </summary>
    public void CheckGradient(string what, Slice<float> input, Func<double> objective, float[] analytic, float h,
        int samples, double atol, double rtol, Random rng)
    {
        var values = CpuOps.Span(input);
        int count = Math.Min(samples, values.Length);
        var indices = count == values.Length
            ? Enumerable.Range(0, count).ToArray()
            : Enumerable.Range(0, values.Length).OrderBy(_ => rng.Next()).Take(count).ToArray();
        var numeric = new double[count];
        var picked = new float[count];
        for (int k = 0; k < count; k++)
        {
            int i = indices[k];
            float original = values[i];
            values[i] = original + h;
            double plus = objective();
            values[i] = original - h;
            double minus = objective();
            values[i] = original;
            numeric[k] = (plus - minus) / (2.0 * h);
            picked[k] = analytic[i];
        }
        AssertClose($"{what} (analytic vs central differences, h {h})", picked, numeric, atol, rtol);
    }

    public void Dispose() => Ops.Dispose();
}
