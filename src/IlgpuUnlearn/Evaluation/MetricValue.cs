using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>One figure with its 95% bootstrap interval (NaN bounds when no bootstrap was run).</summary>
public sealed record MetricValue(
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("ci_low")] double Low,
    [property: JsonPropertyName("ci_high")] double High)
{
    public static MetricValue Point(double value) => new(value, double.NaN, double.NaN);

    public bool HasInterval => !double.IsNaN(Low) && !double.IsNaN(High);
}
