using Xunit.Sdk;

namespace IlgpuUnlearn.Tests.Support;

/// <summary><see cref="FixtureAssert.WithinSpread"/>: the wider of the stated tolerance and twice the spread, and a NaN anywhere fails.</summary>
public sealed class FixtureAssertTests
{
    [Fact]
    public void WithinSpreadTakesTheWiderOfTheToleranceAndTwiceTheSpread()
    {
        float[] expected = [10f, 10f], spread = [0f, 0.05f];
        // element 0: 1e-3 + 1e-2 x 10 = 0.101 allowed; element 1: twice its spread, 0.1, under the stated 0.101, so 0.101 too
        FixtureAssert.WithinSpread(null, "inside", expected, [10.1f, 9.9f], spread, 1e-2, 1e-3);
        Assert.Throws<TrueException>(() => FixtureAssert.WithinSpread(null, "outside", expected, [10.2f, 10f], spread, 1e-2, 1e-3));
        // a spread wider than the stated tolerance widens it: 2 x 0.5 = 1
        FixtureAssert.WithinSpread(null, "spread", [10f], [10.9f], [0.5f], 1e-2, 1e-3);
    }

    [Fact]
    public void ANaNAnywhereFails()
    {
        float[] expected = [1f, 2f, 3f], spread = [0f, 0f, 0f];
        foreach (int at in new[] { 0, 1, 2 })
        {
            var actual = (float[])expected.Clone();
            actual[at] = float.NaN;
            var e = Assert.Throws<TrueException>(() => FixtureAssert.WithinSpread(null, "nan", expected, actual, spread, 1e-4, 1e-6));
            Assert.Contains($"at [{at}]", e.Message, StringComparison.Ordinal);
        }
    }
}
