namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// The Unlearning Comparator's privacy score (its result JSON's FQS; gnueaj/Machine-Unlearning-Comparator, backend
/// app/utils/attack.py): threshold attacks that try to tell the unlearned model's outputs on the forget training images from
/// the retrained model's. Two features per image: the entropy of softmax(z / 2) and the confidence
/// log p_max - log(1 - p_max) of softmax(z); each clipped to its range ([0, 2.5] and [-2.5, 10]) and swept over 51 evenly
/// spaced thresholds, in both directions (unlearned as positives, then retrained). At each threshold
/// FPR = share of negatives &gt;= threshold, FNR = 1 - share of positives &gt;= threshold,
/// epsilon = max(0, min(ln(1 - delta - FPR) - ln FNR, ln(1 - delta - FNR) - ln FPR)) with delta = 1e-5 (rates clipped to
/// [1e-10, 1 - delta - 1e-10]; FPR = FNR = 0 counts as a perfect attack, FPR or FNR &gt;= 1 - delta as none), and the attack
/// is 1 - 2^-epsilon. The score is 1 - the largest attack: 1 means indistinguishable from retraining.
/// <para>
/// Rounding: the Comparator's attack code rounds each image's entropy and confidence to 2 decimals (Python's round, in
/// prepare_distribution_data; its retrained reference JSON holds them so rounded), each threshold's attack to 3 decimals,
/// and the score to 3 (round(1 - best, 3)). <see cref="ComputeAsComparator"/> does the same (the report's FQS and the
/// Comparator JSON's); <see cref="Compute"/> rounds nothing (the report's FQS_unrounded).
/// </para>
/// </summary>
public static class PrivacyScore
{
    public const double Delta = 1e-5;
    public const double EntropyTemperature = 2.0;
    public const int Thresholds = 51;
    public static readonly (double Low, double High) EntropyRange = (0.0, 2.5);
    public static readonly (double Low, double High) ConfidenceRange = (-2.5, 10.0);

    /// <summary>The score from the two models' features on the same images (entropies and confidences, one per image each).</summary>
    public static double Compute(ReadOnlySpan<double> unlearnedEntropy, ReadOnlySpan<double> retrainedEntropy,
        ReadOnlySpan<double> unlearnedConfidence, ReadOnlySpan<double> retrainedConfidence)
    {
        double best = Math.Max(
            Math.Max(BestAttack(unlearnedEntropy, retrainedEntropy, EntropyRange), BestAttack(retrainedEntropy, unlearnedEntropy, EntropyRange)),
            Math.Max(BestAttack(unlearnedConfidence, retrainedConfidence, ConfidenceRange), BestAttack(retrainedConfidence, unlearnedConfidence, ConfidenceRange)));
        return Math.Clamp(1 - best, 0, 1);
    }

    /// <summary>
    /// The score as the Comparator computes it: features rounded to 2 decimals (see <see cref="RoundAsPython"/>; give them
    /// rounded with <see cref="RoundFeatures"/>), each attack to 3, the score to 3.
    /// </summary>
    public static double ComputeAsComparator(ReadOnlySpan<double> unlearnedEntropy, ReadOnlySpan<double> retrainedEntropy,
        ReadOnlySpan<double> unlearnedConfidence, ReadOnlySpan<double> retrainedConfidence)
    {
        double best = Math.Max(
            Math.Max(BestAttack(unlearnedEntropy, retrainedEntropy, EntropyRange, 3), BestAttack(retrainedEntropy, unlearnedEntropy, EntropyRange, 3)),
            Math.Max(BestAttack(unlearnedConfidence, retrainedConfidence, ConfidenceRange, 3), BestAttack(retrainedConfidence, unlearnedConfidence, ConfidenceRange, 3)));
        return RoundAsPython(Math.Clamp(1 - best, 0, 1), 3);
    }

    /// <summary>Each value rounded to 2 decimals as the Comparator stores them.</summary>
    public static double[] RoundFeatures(ReadOnlySpan<double> values)
    {
        var rounded = new double[values.Length];
        for (int i = 0; i < values.Length; i++) rounded[i] = RoundAsPython(values[i], 2);
        return rounded;
    }

    /// <summary>
    /// Python's round(x, digits): the double nearest to x rounded half-to-even at that decimal, judged on x's exact value
    /// (2.675, stored as 2.67499999..., gives 2.67). Done in decimal from x's 17 significant digits, which tell a true tie
    /// from a near one for any double.
    /// </summary>
    public static double RoundAsPython(double x, int digits)
    {
        if (!double.IsFinite(x) || Math.Abs(x) > 1e15) return x;
        var exact = decimal.Parse(x.ToString("E16", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
        return (double)Math.Round(exact, digits, MidpointRounding.ToEven);
    }

    /// <summary>
    /// The largest attack over the thresholds with <paramref name="positives"/> as the class the attack flags; each attack
    /// rounded to <paramref name="roundAttacks"/> decimals first when given (the Comparator's 3).
    /// </summary>
    public static double BestAttack(ReadOnlySpan<double> positives, ReadOnlySpan<double> negatives, (double Low, double High) range, int? roundAttacks = null)
    {
        if (positives.Length == 0 || negatives.Length == 0) return 0;
        double best = 0;
        for (int k = 0; k < Thresholds; k++)
        {
            // numpy.linspace: low + k * step, the last point exactly high.
            double threshold = k == Thresholds - 1 ? range.High : range.Low + k * ((range.High - range.Low) / (Thresholds - 1));
            double tpr = ShareAtLeast(positives, threshold, range), fpr = ShareAtLeast(negatives, threshold, range);
            double attack = Attack(fpr, 1.0 - tpr);
            best = Math.Max(best, roundAttacks is int d ? RoundAsPython(attack, d) : attack);
        }
        return best;
    }

    /// <summary>1 - 2^-epsilon for one threshold's error rates.</summary>
    public static double Attack(double fpr, double fnr)
    {
        const double eps = 1e-10;
        if (fpr == 0 && fnr == 0) return 1;
        if (fpr >= 1 - Delta || fnr >= 1 - Delta) return 0;
        double sfp = Math.Clamp(fpr, eps, 1 - Delta - eps), sfn = Math.Clamp(fnr, eps, 1 - Delta - eps);
        double epsilon = Math.Max(0, Math.Min(Math.Log(1 - Delta - sfp) - Math.Log(sfn), Math.Log(1 - Delta - sfn) - Math.Log(sfp)));
        return 1 - Math.Pow(2, -epsilon);
    }

    private static double ShareAtLeast(ReadOnlySpan<double> values, double threshold, (double Low, double High) range)
    {
        int count = 0;
        foreach (double v in values) if (Math.Clamp(v, range.Low, range.High) >= threshold) count++;
        return (double)count / values.Length;
    }
}
