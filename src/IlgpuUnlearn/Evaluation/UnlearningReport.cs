using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// The card's evaluation of one model on the test set: accuracy (%) and mean per-sample NLL on the forget
/// class and on the other classes, per-class accuracy (%), and the confusion matrix (rows true, columns predicted).
/// A value over no images is NaN. The JSON names are the report file's field names.
/// </summary>
public sealed class UnlearningReport
{
    [JsonPropertyName("forget_class")]
    public int ForgetClass { get; init; }

    [JsonPropertyName("forget_accuracy")]
    public double ForgetAccuracy { get; init; }

    [JsonPropertyName("forget_loss")]
    public double ForgetLoss { get; init; }

    [JsonPropertyName("retain_accuracy")]
    public double RetainAccuracy { get; init; }

    [JsonPropertyName("retain_loss")]
    public double RetainLoss { get; init; }

    [JsonPropertyName("per_class_accuracy")]
    public double[] PerClassAccuracy { get; init; } = [];

    [JsonPropertyName("confusion_matrix")]
    public long[][] ConfusionMatrix { get; init; } = [];

    [JsonPropertyName("class_names")]
    public string[] ClassNames { get; init; } = [];

    [JsonIgnore]
    public int ClassCount => ClassNames.Length;

    [JsonIgnore]
    public string ForgetClassName => ClassNames[ForgetClass];

    /// <summary>Test images of the forget class (1,000 for CIFAR-10).</summary>
    [JsonIgnore]
    public long ForgetCount => ConfusionMatrix[ForgetClass].Sum();

    /// <summary>Test images of the other classes (9,000 for CIFAR-10).</summary>
    [JsonIgnore]
    public long RetainCount => ConfusionMatrix.Sum(row => row.Sum()) - ForgetCount;

    /// <summary>Accuracy (%) over every test image.</summary>
    [JsonIgnore]
    public double OverallAccuracy
    {
        get
        {
            long correct = 0, total = 0;
            for (int t = 0; t < ConfusionMatrix.Length; t++)
            {
                correct += ConfusionMatrix[t][t];
                total += ConfusionMatrix[t].Sum();
            }
            return total == 0 ? double.NaN : 100.0 * correct / total;
        }
    }

    /// <summary>The report of n samples at once: <paramref name="labels"/> (n) and <paramref name="logits"/> (n, classes).</summary>
    public static UnlearningReport Compute(ReadOnlySpan<int> labels, ReadOnlySpan<float> logits, int forgetClass, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var accumulator = new EvaluationAccumulator(classNames.Count);
        accumulator.Add(labels, logits);
        return accumulator.ToReport(forgetClass, classNames);
    }
}
