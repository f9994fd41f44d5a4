namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// Percentile bootstrap intervals (Efron and Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13): the statistic is
/// recomputed on resamples drawn with replacement, seeded, and the interval is the 2.5th and 97.5th percentile of the
/// replicates (linear interpolation between order statistics, numpy.percentile's default).
/// </summary>
public static class Bootstrap
{
    public const double Level = 0.95;

    /// <summary>The central <see cref="Level"/> interval of <paramref name="replicates"/>; NaNs are left out; (NaN, NaN) when none are left.</summary>
    public static (double Low, double High) PercentileInterval(IEnumerable<double> replicates)
    {
        var sorted = replicates.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0) return (double.NaN, double.NaN);
        double tail = (1 - Level) / 2;
        return (Quantile(sorted, tail), Quantile(sorted, 1 - tail));
    }

    /// <summary>numpy.percentile (linear) of an ascending array, q in [0, 1].</summary>
    public static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }

    /// <summary>n indices drawn uniformly with replacement from <paramref name="pool"/>.</summary>
    public static int[] Resample(ReadOnlySpan<int> pool, Random random)
    {
        var drawn = new int[pool.Length];
        for (int i = 0; i < drawn.Length; i++) drawn[i] = pool[random.Next(pool.Length)];
        return drawn;
    }
}
