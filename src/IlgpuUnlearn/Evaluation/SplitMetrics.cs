using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// One model on one split (train or test): accuracy (%) and mean per-sample NLL per class, and, with a forget class, on
/// the forget class and on the other classes pooled (the card's two figures); and over every image (accuracy, loss).
/// Values over no images, and the forget/retain figures without a forget class, are NaN (null in JSON).
/// </summary>
public sealed class SplitMetrics
{
    [JsonPropertyName("images")]
    public int Images { get; init; }

    /// <summary>Accuracy over every image of the split (%).</summary>
    [JsonPropertyName("accuracy")]
    public double Accuracy { get; init; } = double.NaN;

    /// <summary>Mean per-sample NLL over every image of the split.</summary>
    [JsonPropertyName("loss")]
    public double Loss { get; init; } = double.NaN;

    [JsonPropertyName("per_class_count")]
    public int[] PerClassCount { get; init; } = [];

    [JsonPropertyName("per_class_accuracy")]
    public double[] PerClassAccuracy { get; init; } = [];

    [JsonPropertyName("per_class_loss")]
    public double[] PerClassLoss { get; init; } = [];

    [JsonPropertyName("forget_accuracy")]
    public double ForgetAccuracy { get; init; } = double.NaN;

    [JsonPropertyName("forget_loss")]
    public double ForgetLoss { get; init; } = double.NaN;

    [JsonPropertyName("retain_accuracy")]
    public double RetainAccuracy { get; init; } = double.NaN;

    [JsonPropertyName("retain_loss")]
    public double RetainLoss { get; init; } = double.NaN;

    /// <summary>The figures of <paramref name="outputs"/>; <paramref name="forgetClass"/> null leaves the forget/retain figures NaN.</summary>
    public static SplitMetrics Compute(SampleOutputs outputs, int? forgetClass)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        int classes = outputs.ClassCount;
        var count = new int[classes];
        var correct = new long[classes];
        var loss = new double[classes];
        for (int i = 0; i < outputs.Count; i++)
        {
            int y = outputs.Label(i);
            count[y]++;
            if (outputs.Correct(i)) correct[y]++;
            loss[y] += outputs.Loss[i];
        }
        var accuracy = new double[classes];
        var meanLoss = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            accuracy[c] = Percent(correct[c], count[c]);
            meanLoss[c] = count[c] == 0 ? double.NaN : loss[c] / count[c];
        }
        double overallAccuracy = Percent(correct.Sum(), outputs.Count), overallLoss = outputs.Count == 0 ? double.NaN : loss.Sum() / outputs.Count;
        if (forgetClass is not int k)
            return new SplitMetrics
            {
                Images = outputs.Count, PerClassCount = count, PerClassAccuracy = accuracy, PerClassLoss = meanLoss, Accuracy = overallAccuracy, Loss = overallLoss,
            };
        long retainCount = 0, retainCorrect = 0;
        double retainLoss = 0;
        for (int c = 0; c < classes; c++)
        {
            if (c == k) continue;
            retainCount += count[c];
            retainCorrect += correct[c];
            retainLoss += loss[c];
        }
        return new SplitMetrics
        {
            Images = outputs.Count, PerClassCount = count, PerClassAccuracy = accuracy, PerClassLoss = meanLoss, Accuracy = overallAccuracy, Loss = overallLoss,
            ForgetAccuracy = accuracy[k], ForgetLoss = meanLoss[k],
            RetainAccuracy = Percent(retainCorrect, retainCount),
            RetainLoss = retainCount == 0 ? double.NaN : retainLoss / retainCount,
        };
    }

    /// <summary>The mean of the per-class accuracies of every class but <paramref name="forgetClass"/>: the Comparator's RA and TRA.</summary>
    public double MeanRetainClassAccuracy(int forgetClass) =>
        Enumerable.Range(0, PerClassAccuracy.Length).Where(c => c != forgetClass && PerClassCount[c] > 0).Select(c => PerClassAccuracy[c]).DefaultIfEmpty(double.NaN).Average();

    internal static double Percent(long part, long total) => total == 0 ? double.NaN : 100.0 * part / total;
}
