using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary>
/// One figure over the seeds of a method: the mean of the per-seed values and the two-sided 95% Student t interval
/// mean +- t_{0.975, n-1} s / sqrt(n), s the sample standard deviation (n - 1 in the denominator).
/// </summary>
/// <remarks>
/// Why t: the seeds are a handful of independent runs (3 to 10), each figure one draw from the distribution of that figure
/// over seeds; with n that small the standard error s / sqrt(n) is itself uncertain, and the t quantile (12.71 at n = 2,
/// 4.30 at n = 3, 2.26 at n = 10, towards the normal's 1.96) accounts for it where a normal interval would be too narrow,
/// and a percentile bootstrap over n values could not be wider than their range. It assumes the figure is roughly normal over
/// seeds; for a share near 0 or 100 the interval may cross the bound (it is not clipped: it says how uncertain the mean is).
/// It answers "how much does the figure move from seed to seed", beside each run's bootstrap interval, which answers "how
/// much would it move with other test images, for this one model". n = 1 gives the value and no interval (no spread to
/// estimate): NaN bounds and a reason. Seeds whose figure is not available (NaN) are left out of n.
/// </remarks>
public sealed record SeedInterval
{
    /// <summary>The mean over the seeds with a value; NaN when none has one.</summary>
    [JsonPropertyName("mean")] public double Mean { get; init; } = double.NaN;

    /// <summary>The interval's bounds; NaN for fewer than 2 values.</summary>
    [JsonPropertyName("ci_low")] public double Low { get; init; } = double.NaN;
    [JsonPropertyName("ci_high")] public double High { get; init; } = double.NaN;

    /// <summary>The sample standard deviation over seeds (n - 1 in the denominator); NaN for fewer than 2 values.</summary>
    [JsonPropertyName("sd")] public double StandardDeviation { get; init; } = double.NaN;

    /// <summary>The seeds with a value (n).</summary>
    [JsonPropertyName("n")] public int Count { get; init; }

    /// <summary>t_{0.975, n-1}, the interval's factor; NaN for fewer than 2 values.</summary>
    [JsonPropertyName("t")] public double T { get; init; } = double.NaN;

    /// <summary>Each seed's value in seed order (NaN, written null, where that seed has none).</summary>
    [JsonPropertyName("values")] public double[] Values { get; init; } = [];

    /// <summary>Why there is no interval ("1 seed: no spread to estimate"), or null when there is one.</summary>
    [JsonPropertyName("no_interval"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NoInterval { get; init; }

    [JsonIgnore] public bool HasInterval => !double.IsNaN(Low) && !double.IsNaN(High);

    /// <summary>Two or more values, all equal: the interval has zero width because nothing varied, not because the figure is certain.</summary>
    [JsonIgnore] public bool IsConstant => HasInterval && Values.Where(v => !double.IsNaN(v)).Distinct().Count() == 1;

    /// <summary>The half-width t s / sqrt(n); NaN without an interval.</summary>
    [JsonIgnore] public double HalfWidth => HasInterval ? (High - Low) / 2 : double.NaN;

    /// <summary>The 95% interval's two-sided level, as the bootstrap's.</summary>
    public const double Level = 0.95;

    /// <summary>The mean and 95% t interval of <paramref name="values"/> (one per seed, NaN where a seed has none).</summary>
    public static SeedInterval Of(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var present = values.Where(v => !double.IsNaN(v)).ToArray();
        int n = present.Length;
        if (n == 0) return new SeedInterval { Count = 0, Values = [.. values], NoInterval = "no seed has this figure" };
        double mean = present.Average();
        if (n == 1) return new SeedInterval { Mean = mean, Count = 1, Values = [.. values], NoInterval = "1 seed: no spread to estimate" };
        double sumSquares = present.Sum(v => (v - mean) * (v - mean));
        double sd = Math.Sqrt(sumSquares / (n - 1));
        double t = StudentT.Quantile(0.5 + Level / 2, n - 1);
        double half = t * sd / Math.Sqrt(n);
        return new SeedInterval { Mean = mean, Low = mean - half, High = mean + half, StandardDeviation = sd, Count = n, T = t, Values = [.. values] };
    }
}
