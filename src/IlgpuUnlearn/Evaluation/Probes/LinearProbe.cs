using System.Text.Json.Serialization;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>
/// A linear probe on a model's frozen penultimate features (the 8w = 512-d pooled output, the fc layer's input): how much
/// of the forget class a linear read-out can still recover from what the network computes below its logits (arXiv
/// 2604.08271, 2503.06991: models at 0% forget accuracy often give near-original probe accuracy). The probe is fitted on
/// the training split's features of every class and scored on the test split.
///
/// The fit: features standardised with the training rows' mean and population standard deviation (scikit-learn's
/// StandardScaler; a constant feature keeps scale 1), then multinomial logistic regression with an L2 penalty, C = 1
/// (<see cref="MultinomialLogisticRegression"/>, scikit-learn's LogisticRegression(solver="lbfgs", multi_class="multinomial")
/// defaults). Why these: lbfgs is scikit-learn's default and the only one of its solvers that fits the multinomial loss
/// with an L2 penalty in one model without a sample-by-sample pass; C = 1 is its default and, summed over 50,000 training
/// rows, a weak penalty that still makes the solution unique when some classes are separable (probes on a base model's
/// features are); standardising first puts every model's features (unlearning can scale them by orders of magnitude) on one
/// footing, so the same C means the same thing for base, unlearned and retrained, and L-BFGS converges in tens of iterations.
/// Memory: the training features in double, n x d x 8 bytes (CIFAR-10: 205 MB).
/// </summary>
public sealed record LinearProbe
{
    /// <summary>Probe accuracy (percent) on the forget class's test images.</summary>
    [JsonPropertyName("forget_accuracy")] public double ForgetAccuracy { get; init; }

    /// <summary>Probe accuracy (percent) on the other classes' test images, pooled.</summary>
    [JsonPropertyName("retain_accuracy")] public double RetainAccuracy { get; init; }

    /// <summary>Probe accuracy (percent) per class on the test images; NaN where a class has none.</summary>
    [JsonPropertyName("class_accuracy")] public double[] ClassAccuracy { get; init; } = [];

    /// <summary>L-BFGS iterations of the fit, and whether it met its tolerance.</summary>
    [JsonPropertyName("iterations")] public int Iterations { get; init; }
    [JsonPropertyName("converged")] public bool Converged { get; init; }

    /// <summary>
    /// The probe from the pooled features that the evaluation pass kept with its per-sample outputs
    /// (<see cref="SampleOutputs.Features"/>): no forward of its own. The same figures as <see cref="Measure"/> on the model
    /// that gave the outputs (the features are the same pass's; see the class's tests).
    /// </summary>
    /// <exception cref="ArgumentException">Outputs without features, or of other images than <paramref name="forgetClass"/>'s classes.</exception>
    public static LinearProbe Of(SampleOutputs train, SampleOutputs test, int forgetClass, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        if (!train.HasFeatures || !test.HasFeatures) throw new ArgumentException("the outputs carry no penultimate features (forward them with features)");
        if (train.FeatureWidth != test.FeatureWidth || train.ClassCount != test.ClassCount)
            throw new ArgumentException($"training features of width {train.FeatureWidth} and {train.ClassCount} classes, test features of {test.FeatureWidth} and {test.ClassCount}");
        return Fit(train.Features, Bytes(train.Labels), test.Features, Bytes(test.Labels), train.ClassCount, forgetClass, cancel);
    }

    static byte[] Bytes(ReadOnlySpan<int> labels)
    {
        var bytes = new byte[labels.Length];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = checked((byte)labels[i]);
        return bytes;
    }

    /// <summary>
    /// The probe of <paramref name="model"/> as it is now: its penultimate features of both splits (an evaluation forward
    /// of every image of its own, <see cref="ModelFeatures.Penultimate"/>), fitted on the training split, scored on the test
    /// split. Where the evaluation pass's outputs carry the features, <see cref="Of"/> gives the same without the forward.
    /// </summary>
    public static LinearProbe Measure(ResNet18 model, DatasetSplit data, int forgetClass, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var train = ModelFeatures.Penultimate(model, data.Train, cancel);
        var test = ModelFeatures.Penultimate(model, data.Test, cancel);
        return Fit(train, data.Train.Labels, test, data.Test.Labels, model.Config.Classes, forgetClass, cancel);
    }

    /// <summary>
    /// Fits the probe on <paramref name="trainFeatures"/> (n, d) with <paramref name="trainLabels"/> and scores it on the
    /// test features for forget class <paramref name="forgetClass"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Feature counts that do not match the labels or each other.</exception>
    public static LinearProbe Fit(ReadOnlySpan<float> trainFeatures, ReadOnlySpan<byte> trainLabels, ReadOnlySpan<float> testFeatures,
        ReadOnlySpan<byte> testLabels, int classes, int forgetClass, CancellationToken cancel = default)
    {
        if (trainLabels.Length == 0 || trainFeatures.Length % trainLabels.Length != 0)
            throw new ArgumentException($"{trainFeatures.Length} training feature values for {trainLabels.Length} images");
        int d = trainFeatures.Length / trainLabels.Length;
        if (testFeatures.Length != (long)testLabels.Length * d)
            throw new ArgumentException($"{testFeatures.Length} test feature values are not {testLabels.Length} images of {d}");
        var (mean, scale) = Standardisation(trainFeatures, trainLabels.Length, d);
        var x = Standardise(trainFeatures, mean, scale);
        var y = new int[trainLabels.Length];
        for (int i = 0; i < y.Length; i++) y[i] = trainLabels[i];
        var model = MultinomialLogisticRegression.Fit(x, y, classes, 1.0, cancel);
        var predicted = model.Predict(Standardise(testFeatures, mean, scale));

        var correct = new long[classes];
        var count = new long[classes];
        for (int i = 0; i < predicted.Length; i++)
        {
            count[testLabels[i]]++;
            if (predicted[i] == testLabels[i]) correct[testLabels[i]]++;
        }
        long retainCorrect = 0, retainCount = 0;
        for (int k = 0; k < classes; k++)
            if (k != forgetClass) { retainCorrect += correct[k]; retainCount += count[k]; }
        return new LinearProbe
        {
            ForgetAccuracy = SplitMetrics.Percent(correct[forgetClass], count[forgetClass]),
            RetainAccuracy = SplitMetrics.Percent(retainCorrect, retainCount),
            ClassAccuracy = Enumerable.Range(0, classes).Select(k => SplitMetrics.Percent(correct[k], count[k])).ToArray(),
            Iterations = model.Iterations,
            Converged = model.Converged,
        };
    }

    /// <summary>StandardScaler's mean and scale (population standard deviation; 1 where it is 0) of each of d columns.</summary>
    public static (double[] Mean, double[] Scale) Standardisation(ReadOnlySpan<float> x, int n, int d)
    {
        var mean = new double[d];
        var scale = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mean[j] += x[i * d + j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) { double v = x[i * d + j] - mean[j]; scale[j] += v * v; }
        for (int j = 0; j < d; j++)
        {
            double variance = scale[j] / n;
            // scikit-learn 1.2's _is_constant_feature: a variance within the rounding error of its computation is zero.
            const double eps = 2.220446049250313e-16;
            double bound = n * eps * variance + (n * mean[j] * eps) * (n * mean[j] * eps);
            scale[j] = variance <= bound ? 1 : Math.Sqrt(variance);
        }
        return (mean, scale);
    }

    /// <summary>(x - mean) / scale, row by row, in double.</summary>
    public static double[] Standardise(ReadOnlySpan<float> x, double[] mean, double[] scale)
    {
        int d = mean.Length;
        var z = new double[x.Length];
        for (int i = 0; i < x.Length; i++) z[i] = (x[i] - mean[i % d]) / scale[i % d];
        return z;
    }
}
