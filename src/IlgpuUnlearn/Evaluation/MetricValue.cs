using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// One figure with its 95% bootstrap interval (NaN bounds when no bootstrap was run). A figure that cannot be computed
/// (too few images: see <see cref="ModelEvaluation"/>) has NaN everywhere and says why in <see cref="NotAvailable"/>;
/// reports show it as "n/a" with the reason, never as a number.
/// </summary>
public sealed record MetricValue(
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("ci_low")] double Low,
    [property: JsonPropertyName("ci_high")] double High,
    [property: JsonPropertyName("not_available"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NotAvailable = null)
{
    public static MetricValue Point(double value) => new(value, double.NaN, double.NaN);

    /// <summary>A figure that cannot be computed, and why (one line, e.g. "1 forget image: a share needs at least 2").</summary>
    public static MetricValue Unavailable(string reason) => new(double.NaN, double.NaN, double.NaN, reason);

    [JsonIgnore]
    public bool IsAvailable => NotAvailable is null;

    [JsonIgnore]
    public bool HasInterval => !double.IsNaN(Low) && !double.IsNaN(High);
}
