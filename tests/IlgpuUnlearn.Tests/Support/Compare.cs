using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Support;

/// <summary>Element-wise comparison with a printed worst error.</summary>
public static class Compare
{
    /// <summary>
    /// Asserts |actual - expected| &lt;= atol + rtol |expected| for every element; prints the worst absolute error and the worst
    /// error relative to the largest expected magnitude.
    /// </summary>
    public static void Close(ITestOutputHelper? output, string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worstAbs = 0, scale = 0, worstExcess = double.NegativeInfinity;
        int worstIndex = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"{what}[{i}] is NaN");
            double diff = Math.Abs((double)actual[i] - expected[i]);
            double excess = diff - (atol + rtol * Math.Abs(expected[i]));
            worstAbs = Math.Max(worstAbs, diff);
            scale = Math.Max(scale, Math.Abs(expected[i]));
            if (excess > worstExcess) { worstExcess = excess; worstIndex = i; }
        }
        output?.WriteLine($"{what}: {expected.Length} values, worst |diff| {worstAbs:E2}, relative to max |expected| {worstAbs / Math.Max(scale, 1e-30):E2} (rtol {rtol:E0}, atol {atol:E0})");
        if (worstExcess > 0)
            Assert.Fail($"{what}[{worstIndex}]: expected {expected[worstIndex]}, got {actual[worstIndex]} (rtol {rtol}, atol {atol})");
    }

    /// <summary>Max |a - b| / max(max |b|, tiny): an error relative to the tensor's scale.</summary>
    public static double RelativeToScale(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double worst = 0, scale = 1e-30;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return worst / scale;
    }
}
