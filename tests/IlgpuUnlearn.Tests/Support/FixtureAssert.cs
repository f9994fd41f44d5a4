using IlgpuUnlearn.Model;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>Prints every comparison of a <see cref="PyTorchFixtureCheck"/> check and fails the test on any that did not pass.</summary>
public static class FixtureAssert
{
    public static void AllPassed(ITestOutputHelper output, IReadOnlyList<FixtureComparison> comparisons)
    {
        foreach (var c in comparisons) output.WriteLine(c.ToString());
        Assert.NotEmpty(comparisons);
        var failed = comparisons.Where(c => !c.Passed).Select(c => c.ToString()).ToList();
        Assert.True(failed.Count == 0, "against PyTorch:\n" + string.Join("\n", failed));
    }

    /// <summary>|actual - expected| &lt;= atol + rtol |expected| everywhere (<see cref="PyTorchFixtureCheck.Close"/>), printed.</summary>
    public static void Close(ITestOutputHelper? output, string name, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol)
    {
        var c = PyTorchFixtureCheck.Close(name, expected, actual, rtol, atol);
        output?.WriteLine(c.ToString());
        Assert.True(c.Passed, c.ToString());
    }

    /// <summary>
    /// How many times the fixture's spread a value may lie from PyTorch's: the spread (spread.* in
    /// unlearn_w64_tiny.safetensors) is the widest distance of five other PyTorch fp32 runs of the same steps from the
    /// one the fixture holds, a sample of how far rounding alone moves the number, not a bound; another implementation
    /// lands anywhere in that range, and twice the sample's widest leaves room for a sixth draw.
    /// </summary>
    public const double SpreadFactor = 2;

    /// <summary>The tolerance of one value: atol + rtol |expected|, or <see cref="SpreadFactor"/> times its spread where that is wider.</summary>
    public static double Tolerance(double expected, double spread, double rtol, double atol)
        => Math.Max(atol + rtol * Math.Abs(expected), SpreadFactor * spread);

    /// <summary>
    /// |actual - expected| &lt;= <see cref="Tolerance"/> element by element (spread: the same length as expected), the
    /// worst element printed: for numbers a multi-step fp32 run makes chaotic (a ReLU input within rounding of zero
    /// falling the other way), whose PyTorch spread the fixture records.
    /// </summary>
    public static void WithinSpread(ITestOutputHelper? output, string name, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual,
        ReadOnlySpan<float> spread, double rtol, double atol)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.Length, spread.Length);
        double worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double ratio = Math.Abs((double)actual[i] - expected[i]) / Tolerance(expected[i], spread[i], rtol, atol);
            if (double.IsNaN(ratio))
            {
                (worst, at) = (double.NaN, i); // NaN is worst, and stays so
                break;
            }
            if (ratio > worst) (worst, at) = (ratio, i);
        }
        string line = $"{(worst <= 1 ? "ok" : "FAIL")} {name}  {worst:E2} of the tolerance at [{at}]: PyTorch {expected[at]:R}, here " +
                      $"{actual[at]:R}, PyTorch's fp32 spread {spread[at]:E2} (tol max({atol:E0} + {rtol:E0} |expected|, {SpreadFactor} spread))";
        output?.WriteLine(line);
        Assert.True(worst <= 1, line);
    }
}
