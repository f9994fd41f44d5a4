using IlgpuUnlearn.Evaluation.Seeds;

namespace IlgpuUnlearn.Tests.Evaluation.Seeds;

/// <summary>
/// The interval over seeds against references computed apart from the code under test: Student t quantiles in closed form
/// (1 and 2 degrees of freedom) and from a printed t table, and intervals worked out with Python's statistics module.
/// </summary>
public sealed class SeedIntervalTests
{
    /// <summary>
    /// 1 degree of freedom is the Cauchy distribution, quantile tan(pi (p - 1/2)); 2 degrees of freedom have the two-sided
    /// probability t / sqrt(t^2 + 2), so t = a sqrt(2 / (1 - a^2)) with a = 2p - 1. Both exact; the bisection ends at the
    /// last bit of the angle, so 1e-12 relative is far above its error and far below any use.
    /// </summary>
    [Fact]
    public void QuantilesOfOneAndTwoDegreesOfFreedomAreTheClosedForms()
    {
        foreach (double p in new[] { 0.6, 0.9, 0.975, 0.995 })
        {
            double cauchy = Math.Tan(Math.PI * (p - 0.5));
            Assert.Equal(1, StudentT.Quantile(p, 1) / cauchy, 12);
            double a = 2 * p - 1;
            Assert.Equal(1, StudentT.Quantile(p, 2) / (a * Math.Sqrt(2 / (1 - a * a))), 12);
        }
        Assert.Equal(12.706204736174696, StudentT.Quantile(0.975, 1), 9);
        Assert.Equal(4.302652729749463, StudentT.Quantile(0.975, 2), 9);
    }

    /// <summary>
    /// t_{0.975, df} as printed in t tables (three decimals, e.g. NIST/SEMATECH e-Handbook of Statistical Methods, table
    /// 1.3.6.7.2): within 5e-4, half a unit of the table's last decimal. Far out, the normal quantile 1.95996.
    /// </summary>
    [Theory]
    [InlineData(3, 3.182)]
    [InlineData(4, 2.776)]
    [InlineData(5, 2.571)]
    [InlineData(6, 2.447)]
    [InlineData(9, 2.262)]
    [InlineData(10, 2.228)]
    [InlineData(19, 2.093)]
    [InlineData(29, 2.045)]
    [InlineData(30, 2.042)]
    [InlineData(60, 2.000)]
    [InlineData(100, 1.984)]
    [InlineData(100_000, 1.960)]
    public void QuantilesMatchATable(int degreesOfFreedom, double table)
    {
        Assert.InRange(StudentT.Quantile(0.975, degreesOfFreedom), table - 5e-4, table + 5e-4);
    }

    [Fact]
    public void TwoSidedProbabilityIsTheInverseOfTheQuantile()
    {
        foreach (int df in new[] { 1, 2, 3, 7, 8, 40 })
            foreach (double p in new[] { 0.55, 0.8, 0.975 })
                Assert.Equal(2 * p - 1, StudentT.TwoSidedProbability(StudentT.Quantile(p, df), df), 12);
        Assert.Equal(0, StudentT.TwoSidedProbability(0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Quantile(0.975, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentT.Quantile(1, 3));
    }

    /// <summary>
    /// Three seeds' RA (%): Python 3 statistics.mean = 62.27, statistics.stdev = 1.2718490476467732, and t_{0.975,2} =
    /// 0.95 sqrt(2 / (1 - 0.95^2)) = 4.302652729749463 give 59.11055181708691 .. 65.42944818291309. Agreement to 1e-9: the
    /// sums differ from Python's only in rounding order (about 1e-14 relative).
    /// </summary>
    [Fact]
    public void ThreeSeedsGiveTheStudentTIntervalWorkedOutApart()
    {
        var s = SeedInterval.Of([62.07, 63.63, 61.11]);
        Assert.Equal(3, s.Count);
        Assert.Equal(62.27, s.Mean, 9);
        Assert.Equal(1.2718490476467732, s.StandardDeviation, 9);
        Assert.Equal(4.302652729749463, s.T, 9);
        Assert.Equal(59.11055181708691, s.Low, 9);
        Assert.Equal(65.42944818291309, s.High, 9);
        Assert.Null(s.NoInterval);
    }

    /// <summary>
    /// Five seeds with the t table's 2.776 for 4 degrees of freedom: mean 1, stdev 0.7905694150420949 (statistics.stdev),
    /// bounds 1 -+ 2.776 x 0.79057 / sqrt(5) = 0.01852, 1.98148. The table's rounding (at most 5e-4 in t) moves a bound by at most
    /// 5e-4 x 0.79057 / sqrt(5) = 1.8e-4: tolerance 2e-4.
    /// </summary>
    [Fact]
    public void FiveSeedsMatchAHandValueWithATableQuantile()
    {
        var s = SeedInterval.Of([0.5, 1.5, 1.0, 2.0, 0.0]);
        double half = 2.776 * 0.7905694150420949 / Math.Sqrt(5);
        Assert.InRange(s.Low, 1 - half - 2e-4, 1 - half + 2e-4);
        Assert.InRange(s.High, 1 + half - 2e-4, 1 + half + 2e-4);
        Assert.Equal(s.High - s.Mean, s.Mean - s.Low, 12);
    }

    [Fact]
    public void OneSeedGivesItsValueAndNoInterval()
    {
        var s = SeedInterval.Of([42.5]);
        Assert.Equal(42.5, s.Mean);
        Assert.Equal(1, s.Count);
        Assert.False(s.HasInterval);
        Assert.True(double.IsNaN(s.Low) && double.IsNaN(s.High) && double.IsNaN(s.StandardDeviation));
        Assert.Equal("1 seed: no spread to estimate", s.NoInterval);
    }

    /// <summary>A seed without the figure (NaN: not available) is left out of n, and its place kept in the values.</summary>
    [Fact]
    public void SeedsWithoutTheFigureAreLeftOut()
    {
        var s = SeedInterval.Of([62.07, double.NaN, 63.63, 61.11]);
        var without = SeedInterval.Of([62.07, 63.63, 61.11]);
        Assert.Equal(3, s.Count);
        Assert.Equal(without.Low, s.Low);
        Assert.Equal(without.High, s.High);
        Assert.Equal(4, s.Values.Length);
        Assert.True(double.IsNaN(s.Values[1]));
        Assert.Equal(0, SeedInterval.Of([double.NaN]).Count);
        Assert.True(double.IsNaN(SeedInterval.Of([double.NaN]).Mean));
    }

    /// <summary>Identical values: the interval is the value itself (s = 0), not NaN.</summary>
    [Fact]
    public void IdenticalSeedsHaveAZeroWidthInterval()
    {
        var s = SeedInterval.Of([0.0, 0.0, 0.0]);
        Assert.Equal(0, s.Low);
        Assert.Equal(0, s.High);
        Assert.Equal(0, s.StandardDeviation);
    }
}
