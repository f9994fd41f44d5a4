namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// What one evaluation-mode forward pass gave for each image of a split: its label and logits, kept once so that every
/// metric (accuracies, losses, the membership-inference attacks, the Comparator's distributions) reads the same outputs and
/// no image is forwarded twice. Derived per-sample values are computed here, in double, once. Optionally the same pass's
/// pooled penultimate features (the fc layer's input) for the linear probe (<see cref="Probes.LinearProbe"/>), so the probe
/// needs no forward of its own. Memory of the features: Count x FeatureWidth floats, 512 per image at full width (the whole
/// Fashion-MNIST, 70,000 images: 143 MB per model; CIFAR-10's 60,000: 123 MB); none when not asked for.
/// </summary>
public sealed class SampleOutputs
{
    private readonly int[] _labels;
    private readonly float[] _logits;
    private readonly float[]? _features;

    /// <param name="labels">(N) true classes.</param>
    /// <param name="logits">(N, classCount) row-major.</param>
    /// <param name="features">(N, featureWidth) row-major pooled penultimate features of the same pass, or null.</param>
    /// <param name="featureWidth">Values per image of <paramref name="features"/> (8 x the network's width); 0 without.</param>
    /// <exception cref="ArgumentException">Lengths that do not match, or a label outside 0..classCount-1.</exception>
    public SampleOutputs(int[] labels, float[] logits, int classCount, float[]? features = null, int featureWidth = 0)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if ((long)labels.Length * classCount != logits.Length)
            throw new ArgumentException($"{labels.Length} labels need {(long)labels.Length * classCount} logits, not {logits.Length}");
        if (features is null ? featureWidth != 0 : featureWidth <= 0 || (long)labels.Length * featureWidth != features.Length)
            throw new ArgumentException($"{labels.Length} labels with features of width {featureWidth} need {(long)labels.Length * featureWidth} values, not {features?.Length ?? 0}");
        _labels = labels;
        _logits = logits;
        _features = features;
        FeatureWidth = featureWidth;
        ClassCount = classCount;
        Loss = new double[labels.Length];
        Predicted = new int[labels.Length];
        TrueClassProbability = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"label {labels[i]} of sample {i} is not one of the {classCount} classes");
            var z = Logits(i);
            Loss[i] = NegativeLogLikelihood.Of(z, labels[i]);
            Predicted[i] = NegativeLogLikelihood.ArgMax(z);
            TrueClassProbability[i] = Float32Softmax(z, labels[i]);
        }
    }

    public int Count => _labels.Length;
    public int ClassCount { get; }
    public ReadOnlySpan<int> Labels => _labels;
    public int Label(int i) => _labels[i];

    /// <summary>Every logit, (Count, ClassCount) row-major.</summary>
    public ReadOnlySpan<float> AllLogits => _logits;

    /// <summary>Whether the pooled penultimate features were kept.</summary>
    public bool HasFeatures => _features is not null;

    /// <summary>Values per image of <see cref="Features"/> (8 x width); 0 when none were kept.</summary>
    public int FeatureWidth { get; }

    /// <summary>The pooled penultimate features, (Count, FeatureWidth) row-major; empty when none were kept.</summary>
    public ReadOnlySpan<float> Features => _features;

    /// <summary>The card's test-set report of these outputs with <paramref name="forgetClass"/> forgotten.</summary>
    public UnlearningReport CardReport(int forgetClass, IReadOnlyList<string> classNames) =>
        UnlearningReport.Compute(_labels, _logits, forgetClass, classNames);

    /// <summary>Logits of sample <paramref name="i"/> (ClassCount).</summary>
    public ReadOnlySpan<float> Logits(int i) => _logits.AsSpan(i * ClassCount, ClassCount);

    /// <summary>Per-sample cross-entropy, -log softmax(z)[label] (nats).</summary>
    public double[] Loss { get; }

    /// <summary>Arg-max class (the first on ties).</summary>
    public int[] Predicted { get; }

    /// <summary>
    /// softmax(z)[label] computed in float32 as torch's softmax does (exp(z - max z) / sum, float arithmetic): the
    /// "confidence" feature of SalUn's / Unlearn-Sparse's SVC_MIA, whose collect_prob keeps torch's float32 probabilities.
    /// The float rounding matters: a true-class probability within 6e-8 of 1 is exactly 1 there (a confident model's
    /// images tie by the thousand), where the double value exp(-loss) rounded to float would reach 1 only within 3e-8.
    /// Agrees with torch to about one float32 ulp (its vectorised exp and summation order differ).
    /// </summary>
    public double[] TrueClassProbability { get; }

    private static double Float32Softmax(ReadOnlySpan<float> z, int label)
    {
        float max = float.NegativeInfinity;
        foreach (float v in z) max = MathF.Max(max, v);
        float sum = 0;
        foreach (float v in z) sum += MathF.Exp(v - max);
        return MathF.Exp(z[label] - max) / sum;
    }

    public bool Correct(int i) => Predicted[i] == _labels[i];

    /// <summary>softmax(z / T) of sample i, in double.</summary>
    public void Softmax(int i, double temperature, Span<double> probabilities)
    {
        var z = Logits(i);
        double max = double.NegativeInfinity;
        foreach (float v in z) max = Math.Max(max, v / temperature);
        double sum = 0;
        for (int j = 0; j < z.Length; j++) sum += probabilities[j] = Math.Exp(z[j] / temperature - max);
        for (int j = 0; j < z.Length; j++) probabilities[j] /= sum;
    }

    /// <summary>
    /// Shannon entropy (nats) of softmax(z / T): the Comparator's entropy attack feature (backend utils/attack.py, T = 2,
    /// scipy.stats.entropy). Computed as log S - sum_j e_j (z_j/T - m) / S with e_j = exp(z_j/T - m), S = sum e_j, which
    /// stays exact where some probabilities underflow.
    /// </summary>
    public double Entropy(int i, double temperature)
    {
        var z = Logits(i);
        double max = double.NegativeInfinity;
        foreach (float v in z) max = Math.Max(max, v / temperature);
        double sum = 0, weighted = 0;
        foreach (float v in z)
        {
            double a = v / temperature - max, e = Math.Exp(a);
            sum += e;
            weighted += e * a;
        }
        return Math.Log(sum) - weighted / sum;
    }

    /// <summary>
    /// The Comparator's confidence feature log p_max - log(1 - p_max) at temperature 1 (backend utils/attack.py), computed
    /// from the logits as z_max - logsumexp_{j != max} z_j so that it does not saturate where 1 - p_max rounds to zero.
    /// </summary>
    public double LogitConfidence(int i)
    {
        var z = Logits(i);
        int top = NegativeLogLikelihood.ArgMax(z);
        double max = double.NegativeInfinity;
        for (int j = 0; j < z.Length; j++) if (j != top) max = Math.Max(max, z[j]);
        if (double.IsNegativeInfinity(max)) return double.PositiveInfinity;
        double sum = 0;
        for (int j = 0; j < z.Length; j++) if (j != top) sum += Math.Exp(z[j] - max);
        return z[top] - (max + Math.Log(sum));
    }

    /// <summary>Indices of the samples whose label is (or, with <paramref name="equal"/> false, is not) <paramref name="classIndex"/>, in order.</summary>
    public int[] IndicesOfClass(int classIndex, bool equal = true)
    {
        var list = new List<int>();
        for (int i = 0; i < _labels.Length; i++) if ((_labels[i] == classIndex) == equal) list.Add(i);
        return [.. list];
    }
}
