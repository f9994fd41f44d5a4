namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// A binary C-support-vector classifier with the RBF kernel K(x, z) = exp(-gamma |x - z|^2), trained by sequential minimal
/// optimisation with second-order working-set selection (Fan, Chen and Lin, "Working set selection using second order
/// information for training SVM", JMLR 2005: the solver of LIBSVM, which scikit-learn's SVC wraps). The dual
/// min 1/2 a'Qa - e'a, 0 &lt;= a_i &lt;= C, y'a = 0 (Q_ij = y_i y_j K_ij) is solved to the same stopping tolerance as
/// scikit-learn's default (max violating pair gap &lt; 1e-3), without shrinking (which changes the path, not the optimum).
/// Per-sample weights scale the box of each dual variable, 0 &lt;= a_i &lt;= C w_i (scikit-learn's sample_weight; LIBSVM's
/// per-instance C): n identical samples of one class are then one sample of weight n with the same decision function.
/// Written here because no dependency-light .NET library provides an RBF SVC (ML.NET has only linear and local-deep SVMs);
/// checked against scikit-learn 1.2 on the same data in the tests.
/// </summary>
public sealed class RbfSupportVectorClassifier
{
    private readonly double[][] _supportVectors;
    private readonly double[] _coefficients; // a_i y_i
    private readonly double _gamma;

    private RbfSupportVectorClassifier(double[][] supportVectors, double[] coefficients, double rho, double gamma, int iterations, int supportVectorCount)
    {
        _supportVectors = supportVectors;
        _coefficients = coefficients;
        Rho = rho;
        _gamma = gamma;
        Iterations = iterations;
        SupportVectorCount = supportVectorCount;
    }

    /// <summary>The decision function's offset: f(x) = sum_i a_i y_i K(x_i, x) - rho.</summary>
    public double Rho { get; }

    /// <summary>Samples with a_i &gt; 0, a weighted sample counting as its weight (the samples it stands for).</summary>
    public int SupportVectorCount { get; }

    /// <summary>SMO iterations the fit took.</summary>
    public int Iterations { get; }

    /// <summary>
    /// Fits the classifier. <paramref name="features"/>: n rows of d values; <paramref name="positive"/>: n labels (true is
    /// the +1 class, scikit-learn's classes_[1] for labels {0, 1}). <paramref name="gamma"/>: null is scikit-learn's "auto",
    /// 1 / d. <paramref name="weights"/>: null (every sample 1) or one positive weight per row, the box of a_i being C w_i.
    /// Defaults C = 3 and tolerance 1e-3 are SalUn's SVC_MIA settings and scikit-learn's default tolerance.
    /// </summary>
    /// <exception cref="ArgumentException">Empty input, rows of unequal length, only one class, C &lt;= 0 or a weight &lt;= 0.</exception>
    // Optimised from the first call: the solver runs once per model and spends all its time in this method's loop, which
    // tier-0 code (and on-stack replacement, which started late) ran several times slower.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static RbfSupportVectorClassifier Fit(double[][] features, bool[] positive, double c = 3, double? gamma = null,
        double tolerance = 1e-3, long cacheBytes = 256L << 20, CancellationToken cancel = default, double[]? weights = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(positive);
        int n = features.Length;
        if (n == 0 || positive.Length != n) throw new ArgumentException($"{n} feature rows and {positive.Length} labels");
        int d = features[0].Length;
        if (d == 0 || features.Any(r => r.Length != d)) throw new ArgumentException("every feature row needs the same, non-zero length");
        if (!(c > 0)) throw new ArgumentException($"C must be positive, got {c}");
        if (positive.All(p => p) || !positive.Any(p => p)) throw new ArgumentException("both classes are needed to fit a classifier");
        if (weights is not null && (weights.Length != n || weights.Any(w => !(w > 0) || double.IsInfinity(w))))
            throw new ArgumentException($"{weights.Length} weights for {n} samples; each must be positive and finite");
        double g = gamma ?? 1.0 / d;
        var bound = new double[n]; // C w_i
        for (int i = 0; i < n; i++) bound[i] = c * (weights?[i] ?? 1);

        var y = new double[n];
        for (int i = 0; i < n; i++) y[i] = positive[i] ? 1 : -1;
        var alpha = new double[n];
        var gradient = new double[n];
        Array.Fill(gradient, -1.0);
        var cache = new KernelColumns(features, g, Math.Max(2, (int)Math.Min(n, cacheBytes / (4L * n))));

        int iterations = 0;
        long maxIterations = Math.Max(10_000_000L, n > int.MaxValue / 100 ? int.MaxValue : 100L * n);
        while (iterations < maxIterations)
        {
            if ((iterations & 1023) == 0) cancel.ThrowIfCancellationRequested();
            // i: the most violating index in I_up; j: the second-order choice in I_low.
            double gMax = double.NegativeInfinity, gMax2 = double.NegativeInfinity;
            int i = -1;
            for (int t = 0; t < n; t++)
            {
                if (InUp(alpha[t], y[t], bound[t]) && -y[t] * gradient[t] >= gMax) { gMax = -y[t] * gradient[t]; i = t; }
            }
            if (i < 0) break;
            var ki = cache.Column(i);
            int j = -1;
            double bestObjective = double.PositiveInfinity;
            for (int t = 0; t < n; t++)
            {
                if (!InLow(alpha[t], y[t], bound[t])) continue;
                double yg = y[t] * gradient[t];
                if (yg >= gMax2) gMax2 = yg;
                double b = gMax + yg;
                if (b > 0)
                {
                    double a = 2.0 - 2.0 * ki[t]; // K_ii + K_tt - 2 K_it, K_ii = 1 for the RBF kernel
                    if (a <= 0) a = 1e-12;
                    double objective = -b * b / a;
                    if (objective <= bestObjective) { bestObjective = objective; j = t; }
                }
            }
            if (gMax + gMax2 < tolerance || j < 0) break;
            iterations++;
            var kj = cache.Column(j);
            Update(i, j, ki[j], alpha, gradient, y, bound[i], bound[j], out double deltaI, out double deltaJ);
            if (deltaI != 0 || deltaJ != 0)
            {
                double di = y[i] * deltaI, dj = y[j] * deltaJ;
                for (int t = 0; t < n; t++) gradient[t] += y[t] * (di * ki[t] + dj * kj[t]);
            }
        }

        double rho = ComputeRho(alpha, gradient, y, bound);
        var sv = new List<double[]>();
        var coef = new List<double>();
        double represented = 0;
        for (int t = 0; t < n; t++)
        {
            if (alpha[t] > 0)
            {
                sv.Add(features[t]);
                coef.Add(alpha[t] * y[t]);
                represented += weights?[t] ?? 1;
            }
        }
        return new RbfSupportVectorClassifier([.. sv], [.. coef], rho, g, iterations, (int)Math.Round(represented));
    }

    /// <summary>f(x) = sum_i a_i y_i K(x_i, x) - rho; positive means the +1 class.</summary>
    public double Decision(ReadOnlySpan<double> x)
    {
        if (x.Length == 1 && _supportVectors.Length > 0 && _supportVectors[0].Length == 1)
        {
            // One feature: the kernel row with the vectorised Exp (float, as the solver's columns), summed in double.
            var k = System.Buffers.ArrayPool<float>.Shared.Rent(_supportVectors.Length);
            var row = k.AsSpan(0, _supportVectors.Length);
            for (int s = 0; s < row.Length; s++) { float d = (float)(_supportVectors[s][0] - x[0]); row[s] = -(float)_gamma * d * d; }
            System.Numerics.Tensors.TensorPrimitives.Exp(row, row);
            double total = 0;
            for (int s = 0; s < row.Length; s++) total += _coefficients[s] * row[s];
            System.Buffers.ArrayPool<float>.Shared.Return(k);
            return total - Rho;
        }
        double sum = 0;
        for (int s = 0; s < _supportVectors.Length; s++)
        {
            var v = _supportVectors[s];
            double dist = 0;
            for (int k = 0; k < v.Length; k++) { double e = v[k] - x[k]; dist += e * e; }
            sum += _coefficients[s] * Math.Exp(-_gamma * dist);
        }
        return sum - Rho;
    }

    /// <summary>True (the +1 class) where the decision function is positive, as scikit-learn's predict.</summary>
    public bool Predict(ReadOnlySpan<double> x) => Decision(x) > 0;

    private static bool InUp(double a, double y, double c) => y > 0 ? a < c : a > 0;

    private static bool InLow(double a, double y, double c) => y > 0 ? a > 0 : a < c;

    /// <summary>
    /// The analytic two-variable step of SMO, clipped to the boxes 0 &lt;= a_i &lt;= ci, 0 &lt;= a_j &lt;= cj (LIBSVM's update,
    /// written from the dual: the pair moves along the line that keeps y'a fixed, cut where it leaves either box).
    /// </summary>
    private static void Update(int i, int j, double kij, double[] alpha, double[] gradient, double[] y, double ci, double cj,
        out double deltaI, out double deltaJ)
    {
        double oldI = alpha[i], oldJ = alpha[j];
        double quad = 2.0 - 2.0 * kij;
        if (quad <= 0) quad = 1e-12;
        if (y[i] != y[j])
        {
            double delta = (-gradient[i] - gradient[j]) / quad;
            double diff = alpha[i] - alpha[j];
            alpha[i] += delta;
            alpha[j] += delta;
            if (diff > 0) { if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = diff; } }
            else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = -diff; }
            if (diff > ci - cj) { if (alpha[i] > ci) { alpha[i] = ci; alpha[j] = ci - diff; } }
            else if (alpha[j] > cj) { alpha[j] = cj; alpha[i] = cj + diff; }
        }
        else
        {
            double delta = (gradient[i] - gradient[j]) / quad;
            double sum = alpha[i] + alpha[j];
            alpha[i] -= delta;
            alpha[j] += delta;
            if (sum > ci) { if (alpha[i] > ci) { alpha[i] = ci; alpha[j] = sum - ci; } }
            else if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = sum; }
            if (sum > cj) { if (alpha[j] > cj) { alpha[j] = cj; alpha[i] = sum - cj; } }
            else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = sum; }
        }
        deltaI = alpha[i] - oldI;
        deltaJ = alpha[j] - oldJ;
    }

    /// <summary>rho: the mean of y_i G_i over free vectors, else the middle of the feasible interval (LIBSVM's calculate_rho).</summary>
    private static double ComputeRho(double[] alpha, double[] gradient, double[] y, double[] bound)
    {
        double upper = double.PositiveInfinity, lower = double.NegativeInfinity, sum = 0;
        int free = 0;
        for (int t = 0; t < alpha.Length; t++)
        {
            double yg = y[t] * gradient[t];
            if (alpha[t] >= bound[t])
            {
                if (y[t] < 0) upper = Math.Min(upper, yg); else lower = Math.Max(lower, yg);
            }
            else if (alpha[t] <= 0)
            {
                if (y[t] > 0) upper = Math.Min(upper, yg); else lower = Math.Max(lower, yg);
            }
            else
            {
                free++;
                sum += yg;
            }
        }
        return free > 0 ? sum / free : (upper + lower) / 2;
    }

    /// <summary>
    /// Kernel columns K(., i) computed on demand (float, as LIBSVM's cache) and kept up to a count, oldest dropped first.
    /// With one feature (the attacks' case) a column is exp(-gamma (x_i - x)^2) over a float copy of the feature, computed
    /// with System.Numerics.Tensors' vectorised Exp (relative error ~1e-7, far below the solver's 1e-3 tolerance).
    /// </summary>
    private sealed class KernelColumns(double[][] x, double gamma, int capacity)
    {
        private readonly Dictionary<int, float[]> _columns = [];
        private readonly Queue<int> _order = new();
        private readonly float[]? _single = x[0].Length == 1 ? x.Select(r => (float)r[0]).ToArray() : null;

        public float[] Column(int i)
        {
            if (_columns.TryGetValue(i, out var column)) return column;
            if (_columns.Count >= capacity) _columns.Remove(_order.Dequeue());
            column = new float[x.Length];
            if (_single is not null)
            {
                // d = x - x_i; column = exp(-gamma d^2).
                System.Numerics.Tensors.TensorPrimitives.Subtract(_single, _single[i], column);
                System.Numerics.Tensors.TensorPrimitives.Multiply(column, column, column);
                System.Numerics.Tensors.TensorPrimitives.Multiply(column, (float)-gamma, column);
                System.Numerics.Tensors.TensorPrimitives.Exp(column, column);
                _columns[i] = column;
                _order.Enqueue(i);
                return column;
            }
            var xi = x[i];
            Parallel.For(0, (x.Length + 4095) / 4096, block =>
            {
                int end = Math.Min(x.Length, (block + 1) * 4096);
                for (int t = block * 4096; t < end; t++)
                {
                    var xt = x[t];
                    double dist = 0;
                    for (int k = 0; k < xi.Length; k++) { double e = xi[k] - xt[k]; dist += e * e; }
                    column[t] = (float)Math.Exp(-gamma * dist);
                }
            });
            _columns[i] = column;
            _order.Enqueue(i);
            return column;
        }
    }
}
