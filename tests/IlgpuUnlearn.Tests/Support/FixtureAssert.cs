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
}
