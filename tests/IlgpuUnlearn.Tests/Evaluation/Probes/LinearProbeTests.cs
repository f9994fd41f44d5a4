using System.Text.Json;
using IlgpuUnlearn.Evaluation.Probes;
using IlgpuUnlearn.Tests.Support;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Evaluation.Probes;

/// <summary>
/// The linear probe's fit against scikit-learn 1.2's StandardScaler + LogisticRegression(C=1, solver="lbfgs",
/// multi_class="multinomial") on the same features (Fixtures/make_probe_fixtures.py -> probe_sklearn.json: 400 training and
/// 200 test rows of 24 non-negative features, 5 classes, one feature constant).
/// </summary>
public sealed class LinearProbeTests(ITestOutputHelper output)
{
    static readonly JsonElement Expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFile.Folder, "probe_sklearn.json"))).RootElement;

    static double[] Doubles(string name) => Expected.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();
    static float[] Floats(string name) => Doubles(name).Select(v => (float)v).ToArray();
    static int[] Ints(string name) => Expected.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();
    static int Classes => Expected.GetProperty("classes").GetInt32();
    static int Dims => Expected.GetProperty("dims").GetInt32();

    [Fact]
    public void StandardisationMatchesStandardScaler()
    {
        var x = Floats("x_train");
        var (mean, scale) = LinearProbe.Standardisation(x, x.Length / Dims, Dims);
        var expectedMean = Doubles("scaler_mean");
        var expectedScale = Doubles("scaler_scale");
        // Both sum the same float32 values in double: only the summation order differs (1e-13 relative at 400 rows).
        double worst = 0;
        for (int j = 0; j < Dims; j++)
        {
            worst = Math.Max(worst, Math.Abs(mean[j] - expectedMean[j]) / Math.Max(1, Math.Abs(expectedMean[j])));
            worst = Math.Max(worst, Math.Abs(scale[j] - expectedScale[j]) / expectedScale[j]);
        }
        output.WriteLine($"worst relative error of mean and scale: {worst:E2}");
        Assert.True(worst < 1e-12, $"mean/scale off by {worst:E2}");
        Assert.Equal(1.0, scale[7]); // the constant feature keeps scale 1, as StandardScaler's
    }

    [Fact]
    public void FitMatchesScikitLearnCoefficientsObjectiveAndPredictions()
    {
        var x = Floats("x_train");
        var (mean, scale) = LinearProbe.Standardisation(x, x.Length / Dims, Dims);
        var model = MultinomialLogisticRegression.Fit(LinearProbe.Standardise(x, mean, scale), Ints("y_train"), Classes, Expected.GetProperty("C").GetDouble());
        Assert.True(model.Converged);

        var coef = Doubles("coef");
        var intercept = Doubles("intercept");
        double largest = coef.Max(Math.Abs);
        double worstCoef = coef.Select((v, i) => Math.Abs(model.Weights[i] - v)).Max() / largest;
        double worstIntercept = intercept.Select((v, i) => Math.Abs(model.Intercepts[i] - v)).Max() / largest;
        double objective = Expected.GetProperty("objective").GetDouble();
        output.WriteLine($"ours: {model.Iterations} iterations, objective {model.Objective:F10}; scikit-learn: {Expected.GetProperty("n_iter").GetInt32()} iterations, objective {objective:F10}");
        output.WriteLine($"worst coefficient error {worstCoef:E2}, intercept error {worstIntercept:E2} (of the largest |coef| {largest:F3})");
        // scikit-learn's L-BFGS-B stops when the objective's relative decrease falls below 2.2e-9: near a minimum of curvature
        // h that leaves the coefficients off by up to sqrt(2 x 2.2e-9 f / h), about 1e-4 of their size here (f = 124, the
        // smallest curvature ~ the penalty's 1/C = 1 plus the data's). Ours stops far tighter, so the difference is
        // scikit-learn's: 1e-3 of the largest coefficient allows for it; a wrong C (x2) or an unpenalised fit moves them 10%+.
        Assert.True(worstCoef < 1e-3, $"coefficients off by {worstCoef:E2} of the largest");
        Assert.True(worstIntercept < 1e-3, $"intercepts off by {worstIntercept:E2}");
        Assert.True(Math.Abs(model.Intercepts.Sum()) < 1e-9, "the intercepts sum to zero as scikit-learn's do");
        // Ours is at least as close to the optimum: never more than rounding above scikit-learn's objective.
        Assert.True(model.Objective <= objective + 1e-9 * objective, $"objective {model.Objective} above scikit-learn's {objective}");

        var predicted = model.Predict(LinearProbe.Standardise(Floats("x_test"), mean, scale));
        Assert.Equal(Ints("test_predicted"), predicted);
    }

    [Fact]
    public void ProbeAccuraciesMatchScikitLearn()
    {
        var yTrain = Ints("y_train").Select(v => (byte)v).ToArray();
        var yTest = Ints("y_test").Select(v => (byte)v).ToArray();
        var expected = Doubles("test_class_accuracy");
        const int forget = 2;
        var probe = LinearProbe.Fit(Floats("x_train"), yTrain, Floats("x_test"), yTest, Classes, forget);
        Assert.True(probe.Converged);
        for (int k = 0; k < Classes; k++) Assert.Equal(expected[k], probe.ClassAccuracy[k], 9);
        Assert.Equal(expected[forget], probe.ForgetAccuracy, 9);
        var predicted = Ints("test_predicted");
        int retainRows = yTest.Count(y => y != forget);
        int retainRight = yTest.Where((y, i) => y != forget && predicted[i] == y).Count();
        Assert.Equal(100.0 * retainRight / retainRows, probe.RetainAccuracy, 9);
        output.WriteLine($"probe: forget {probe.ForgetAccuracy:F2}%, retain {probe.RetainAccuracy:F2}%, {probe.Iterations} iterations");
    }

    [Fact]
    public void FitRefusesBadInput()
    {
        Assert.Throws<ArgumentException>(() => MultinomialLogisticRegression.Fit([1, 2, 3], [0, 1], 2));
        Assert.Throws<ArgumentException>(() => MultinomialLogisticRegression.Fit([1, 2], [0, 2], 2));
        Assert.Throws<ArgumentException>(() => MultinomialLogisticRegression.Fit([1, 2], [0, 1], 2, c: 0));
    }
}
