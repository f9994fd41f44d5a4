namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// Collects an evaluation batch by batch (labels and the logits the model gave, on the host):
/// the confusion matrix and the summed per-sample loss of each true class. <see cref="ToReport"/> turns it
/// into the card's numbers for any forget class.
/// </summary>
public sealed class EvaluationAccumulator
{
    private readonly long[,] _confusion;
    private readonly double[] _lossSum;

    public EvaluationAccumulator(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        ClassCount = classCount;
        _confusion = new long[classCount, classCount];
        _lossSum = new double[classCount];
    }

    public int ClassCount { get; }

    /// <summary>Samples added so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds n samples: <paramref name="labels"/> (n) and <paramref name="logits"/> (n, ClassCount), row-major.</summary>
    public void Add(ReadOnlySpan<int> labels, ReadOnlySpan<float> logits)
    {
        CheckLengths(labels.Length, logits.Length);
        for (int i = 0; i < labels.Length; i++) AddOne(labels[i], logits.Slice(i * ClassCount, ClassCount));
    }

    /// <inheritdoc cref="Add(ReadOnlySpan{int}, ReadOnlySpan{float})"/>
    public void Add(ReadOnlySpan<byte> labels, ReadOnlySpan<float> logits)
    {
        CheckLengths(labels.Length, logits.Length);
        for (int i = 0; i < labels.Length; i++) AddOne(labels[i], logits.Slice(i * ClassCount, ClassCount));
    }

    /// <summary>The card's numbers with <paramref name="forgetClass"/> as the forgotten class.</summary>
    public UnlearningReport ToReport(int forgetClass, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        if (classNames.Count != ClassCount)
            throw new ArgumentException($"{classNames.Count} class names for {ClassCount} classes", nameof(classNames));
        if ((uint)forgetClass >= (uint)ClassCount)
            throw new ArgumentOutOfRangeException(nameof(forgetClass), $"class {forgetClass} is not one of the {ClassCount} classes");

        var matrix = new long[ClassCount][];
        var perClass = new double[ClassCount];
        long forgetTotal = 0, forgetCorrect = 0, retainTotal = 0, retainCorrect = 0;
        double retainLoss = 0;
        for (int t = 0; t < ClassCount; t++)
        {
            matrix[t] = new long[ClassCount];
            long total = 0;
            for (int p = 0; p < ClassCount; p++)
            {
                matrix[t][p] = _confusion[t, p];
                total += _confusion[t, p];
            }
            long correct = _confusion[t, t];
            perClass[t] = Percent(correct, total);
            if (t == forgetClass)
            {
                forgetTotal = total;
                forgetCorrect = correct;
            }
            else
            {
                retainTotal += total;
                retainCorrect += correct;
                retainLoss += _lossSum[t];
            }
        }
        return new UnlearningReport
        {
            ForgetClass = forgetClass,
            ClassNames = [.. classNames],
            ForgetAccuracy = Percent(forgetCorrect, forgetTotal),
            ForgetLoss = forgetTotal == 0 ? double.NaN : _lossSum[forgetClass] / forgetTotal,
            RetainAccuracy = Percent(retainCorrect, retainTotal),
            RetainLoss = retainTotal == 0 ? double.NaN : retainLoss / retainTotal,
            PerClassAccuracy = perClass,
            ConfusionMatrix = matrix,
        };
    }

    private void AddOne(int label, ReadOnlySpan<float> logits)
    {
        if ((uint)label >= (uint)ClassCount)
            throw new ArgumentOutOfRangeException(nameof(label), $"label {label} is not one of the {ClassCount} classes");
        _confusion[label, NegativeLogLikelihood.ArgMax(logits)]++;
        _lossSum[label] += NegativeLogLikelihood.Of(logits, label);
        Count++;
    }

    private void CheckLengths(int labels, int logits)
    {
        if ((long)labels * ClassCount != logits)
            throw new ArgumentException($"{labels} labels need {(long)labels * ClassCount} logits, not {logits}");
    }

    /// <summary>100 * part / total; NaN when there is nothing to count.</summary>
    private static double Percent(long part, long total) => total == 0 ? double.NaN : 100.0 * part / total;
}
