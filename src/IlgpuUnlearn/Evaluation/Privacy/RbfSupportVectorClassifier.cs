using System.Numerics;
using System.Numerics.Tensors;

namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// A binary C-support-vector classifier with the RBF kernel K(x, z) = exp(-gamma |x - z|^2), trained by sequential minimal
/// optimisation with second-order working-set selection and shrinking (Fan, Chen and Lin, "Working set selection using
/// second order information for training SVM", JMLR 2005; Chang and Lin, "LIBSVM: a library for support vector machines",
/// 2011, sections 4.1-5.1: the solver scikit-learn's SVC wraps). The dual min 1/2 a'Qa - e'a, 0 &lt;= a_i &lt;= C w_i,
/// y'a = 0 (Q_ij = y_i y_j K_ij) is solved to LIBSVM's stopping rule (largest violating pair gap &lt; tolerance, 1e-3 as
/// scikit-learn's default), checked on every variable after shrinking, so the optimum is LIBSVM's to that tolerance.
/// Per-sample weights scale the box of each dual variable (scikit-learn's sample_weight; LIBSVM's per-instance C): n
/// identical samples of one class are then one sample of weight n with the same decision function.
/// <para>
/// Speed: no kernel cache. A kernel column over the active variables is recomputed per use with the vectorised
/// exp of System.Numerics.Tensors (in double; LIBSVM evaluates exp one value at a time and keeps columns as float), which
/// for the attacks' one-dimensional features costs about what a cache lookup does and needs no memory budget. The solver
/// keeps F_t = y_t G_t (the gradient signed by the label), so selection and update loops read one array.
/// </para>
/// Written here because no dependency-light .NET library provides an RBF SVC (ML.NET has only linear and local-deep SVMs);
/// checked against scikit-learn 1.2 on the same data in the tests.
/// </summary>
public sealed class RbfSupportVectorClassifier
{
    private readonly double[][] _supportVectors;
    private readonly double[] _coefficients; // a_i y_i
    private readonly double[]? _single;      // the support vectors' one feature, when d = 1
    private readonly double _gamma;

    private RbfSupportVectorClassifier(double[][] supportVectors, double[] coefficients, double rho, double gamma, int iterations, int supportVectorCount)
    {
        _supportVectors = supportVectors;
        _coefficients = coefficients;
        _single = supportVectors.Length > 0 && supportVectors[0].Length == 1 ? supportVectors.Select(v => v[0]).ToArray() : null;
        Rho = rho;
        _gamma = gamma;
        Iterations = iterations;
        SupportVectorCount = supportVectorCount;
    }

    /// <summary>The decision function's offset: f(x) = sum_i a_i y_i K(x_i, x) - rho.</summary>
    public double Rho { get; }

    /// <summary>
    /// Samples with a_i &gt; 0. A weighted sample (w identical copies) counts as the fewest copies that carry its a_i,
    /// min(w, ceil(a_i / C)): at the optimum the copies' shares are interchangeable, and LIBSVM's path on the unmerged copies
    /// fills them to C one pair at a time, leaving the rest at 0 (so its count is this one, give or take the copies a
    /// different path leaves part-filled).
    /// </summary>
    public int SupportVectorCount { get; }

    /// <summary>Distinct (possibly weighted) points with a_i &gt; 0.</summary>
    public int DistinctSupportVectorCount => _supportVectors.Length;

    /// <summary>SMO iterations the fit took.</summary>
    public int Iterations { get; }

    /// <summary>
    /// Fits the classifier. <paramref name="features"/>: n rows of d values; <paramref name="positive"/>: n labels (true is
    /// scikit-learn's classes_[1] for labels {0, 1}, whose decision values are positive). <paramref name="gamma"/>: null is
    /// scikit-learn's "auto", 1 / d. <paramref name="weights"/>: null (every sample 1) or one positive weight per row, the box
    /// of a_i being C w_i. Defaults C = 3 and tolerance 1e-3 are SalUn's SVC_MIA settings and scikit-learn's default tolerance.
    /// </summary>
    /// <exception cref="ArgumentException">Empty input, rows of unequal length, only one class, C &lt;= 0 or a weight &lt;= 0.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancel"/> is signalled (checked every 256 iterations,
    /// when <paramref name="iterations"/> also hears the count so far).</exception>
    public static RbfSupportVectorClassifier Fit(double[][] features, bool[] positive, double c = 3, double? gamma = null,
        double tolerance = 1e-3, CancellationToken cancel = default, double[]? weights = null, Action<int>? iterations = null)
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
        var solver = new SmoSolver(features, positive, weights, c, g);
        solver.Solve(tolerance, cancel, iterations);
        return solver.Result(features, weights, c, g);
    }

    /// <summary>f(x) = sum_i a_i y_i K(x_i, x) - rho; positive means the positive class.</summary>
    public double Decision(ReadOnlySpan<double> x)
    {
        if (_single is not null && x.Length == 1)
        {
            // One feature: the kernel row with the vectorised exp, in double as LIBSVM's predict.
            var k = System.Buffers.ArrayPool<double>.Shared.Rent(_single.Length);
            var row = k.AsSpan(0, _single.Length);
            TensorPrimitives.Subtract(_single, x[0], row);
            TensorPrimitives.Multiply(row, row, row);
            TensorPrimitives.Multiply(row, -_gamma, row);
            TensorPrimitives.Exp(row, row);
            double total = TensorPrimitives.Dot(row, _coefficients);
            System.Buffers.ArrayPool<double>.Shared.Return(k);
            return total - Rho;
        }
        double sum = 0;
        for (int s = 0; s < _supportVectors.Length; s++)
        {
            var v = _supportVectors[s];
            double dist = 0;
            for (int t = 0; t < v.Length; t++) { double e = v[t] - x[t]; dist += e * e; }
            sum += _coefficients[s] * Math.Exp(-_gamma * dist);
        }
        return sum - Rho;
    }

    /// <summary>
    /// True (the positive class) where the decision function is &gt;= 0: scikit-learn's predict, which is LIBSVM's (value
    /// &gt; 0 gives its first class, classes_[0], and exactly 0 the second, classes_[1]). A constant model's attack sits at
    /// exactly 0 and calls every image a member, as scikit-learn does.
    /// </summary>
    public bool Predict(ReadOnlySpan<double> x) => Decision(x) >= 0;

    /// <summary>
    /// Balanced accuracy (0..1) of <see cref="Predict"/> on labelled points, typically the ones the classifier was fitted on:
    /// the mean of the share of positive points predicted positive and the share of negative points predicted negative
    /// (scikit-learn's balanced_accuracy_score). <paramref name="features"/>: n rows of the fitted width; <paramref name="positive"/>:
    /// n labels; <paramref name="weights"/>: null (each point 1) or n positive counts, a point of weight w counting as w copies.
    /// Cost: n x <see cref="DistinctSupportVectorCount"/> kernel values, rows in parallel, each row's kernel vectorised as in
    /// <see cref="Decision"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Labels or weights not one per row, a weight &lt;= 0, or a class without points.</exception>
    public double BalancedAccuracy(double[][] features, bool[] positive, double[]? weights = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(positive);
        int n = features.Length;
        if (positive.Length != n || (weights is not null && weights.Length != n))
            throw new ArgumentException($"{n} feature rows, {positive.Length} labels and {weights?.Length ?? n} weights");
        if (weights is not null && weights.Any(w => !(w > 0) || double.IsInfinity(w)))
            throw new ArgumentException("each weight must be positive and finite");
        var predicted = new bool[n];
        Parallel.For(0, n, new ParallelOptions { CancellationToken = cancel }, i => predicted[i] = Predict(features[i]));
        double positives = 0, negatives = 0, truePositives = 0, trueNegatives = 0;
        for (int i = 0; i < n; i++)
        {
            double w = weights?[i] ?? 1;
            if (positive[i]) { positives += w; if (predicted[i]) truePositives += w; }
            else { negatives += w; if (!predicted[i]) trueNegatives += w; }
        }
        if (positives == 0 || negatives == 0) throw new ArgumentException("balanced accuracy needs points of both classes");
        return (truePositives / positives + trueNegatives / negatives) / 2;
    }

    /// <summary>
    /// The SMO state. Arrays are indexed by position; shrinking moves inactive variables to the end (positions &gt;= active),
    /// swapping every array, and <c>_index</c> maps a position back to the input row.
    /// </summary>
    private sealed class SmoSolver
    {
        private readonly int _n;
        private readonly double _gamma;
        private readonly double[][] _rows;
        private readonly double[]? _x;      // the one feature, when d = 1
        private readonly double[] _y, _alpha, _bound;
        private readonly double[] _f;       // F_t = y_t G_t, G = Qa - e the dual's gradient
        private readonly double[] _fBar;    // y_t sum over a_s at its bound of C_s y_s K_ts: F of the bounded part, for unshrinking
        private readonly int[] _index;
        private readonly double[] _ki, _kj, _scratch;
        private int _active;
        private bool _unshrunk;

        public int Iterations { get; private set; }

        public SmoSolver(double[][] rows, bool[] positive, double[]? weights, double c, double gamma)
        {
            _n = rows.Length;
            _gamma = gamma;
            _rows = (double[][])rows.Clone();
            _x = rows[0].Length == 1 ? rows.Select(r => r[0]).ToArray() : null;
            _y = positive.Select(p => p ? 1.0 : -1.0).ToArray();
            _alpha = new double[_n];
            _bound = Enumerable.Range(0, _n).Select(i => c * (weights?[i] ?? 1)).ToArray();
            _f = _y.Select(v => -v).ToArray(); // G = -1 at a = 0
            _fBar = new double[_n];
            _index = Enumerable.Range(0, _n).ToArray();
            _ki = new double[_n];
            _kj = new double[_n];
            _scratch = new double[_n];
            _active = _n;
        }

        private bool AtUpper(int t) => _alpha[t] >= _bound[t];

        private bool AtLower(int t) => _alpha[t] <= 0;

        private bool InUp(int t) => _y[t] > 0 ? _alpha[t] < _bound[t] : _alpha[t] > 0;

        private bool InLow(int t) => _y[t] > 0 ? _alpha[t] > 0 : _alpha[t] < _bound[t];

        /// <summary>K(x_i, x_t) for positions t in [from, to), into column[from..to).</summary>
        private void Column(int i, int from, int to, double[] column)
        {
            if (to <= from) return;
            var span = column.AsSpan(from, to - from);
            if (_x is not null)
            {
                TensorPrimitives.Subtract(_x.AsSpan(from, to - from), _x[i], span);
                TensorPrimitives.Multiply(span, span, span);
                TensorPrimitives.Multiply(span, -_gamma, span);
                TensorPrimitives.Exp(span, span);
                return;
            }
            var xi = _rows[i];
            for (int t = from; t < to; t++)
            {
                var xt = _rows[t];
                double dist = 0;
                for (int k = 0; k < xi.Length; k++) { double e = xi[k] - xt[k]; dist += e * e; }
                column[t] = Math.Exp(-_gamma * dist);
            }
        }

        public void Solve(double tolerance, CancellationToken cancel, Action<int>? progress)
        {
            long maxIterations = Math.Max(10_000_000L, _n > int.MaxValue / 100 ? int.MaxValue : 100L * _n);
            int counter = Math.Min(_n, 1000) + 1;
            while (Iterations < maxIterations)
            {
                if (--counter == 0)
                {
                    counter = Math.Min(_n, 1000);
                    Shrink(tolerance);
                }
                if ((Iterations & 255) == 0)
                {
                    cancel.ThrowIfCancellationRequested();
                    progress?.Invoke(Iterations);
                }
                if (!SelectWorkingSet(tolerance, out int i, out int j))
                {
                    // Optimal on the active set: check every variable before stopping.
                    ReconstructGradient();
                    _active = _n;
                    if (!SelectWorkingSet(tolerance, out i, out j)) break;
                    counter = 1; // shrink again at the next iteration
                }
                Iterations++;
                Step(i, j);
            }
            if (_active < _n)
            {
                ReconstructGradient();
                _active = _n;
            }
        }

        /// <summary>
        /// LIBSVM's WSS 2: i maximises -y_t G_t over I_up; j minimises -(b_ij^2 / a_ij) over t in I_low with b_ij &gt; 0.
        /// Leaves K(x_i, .) over the active set in <c>_ki</c>. False when the gap m - M is below the tolerance.
        /// </summary>
        private bool SelectWorkingSet(double tolerance, out int i, out int j)
        {
            int active = _active;
            double gMax = MaxOverUp(active, out i);
            j = -1;
            if (i < 0) return false;
            Column(i, 0, active, _ki);
            double gMax2 = BestInLow(active, gMax, out j);
            return gMax + gMax2 >= tolerance && j >= 0;
        }

        /// <summary>max of -F_t over t in I_up among [0, active), and its last index (LIBSVM's &gt;=); -1 when I_up is empty.</summary>
        private double MaxOverUp(int active, out int index)
        {
            double[] f = _f, y = _y, alpha = _alpha, bound = _bound;
            double best = double.NegativeInfinity;
            index = -1;
            int t = 0, width = Vector<double>.Count;
            if (Vector.IsHardwareAccelerated && active >= 2 * width)
            {
                var bestV = new Vector<double>(double.NegativeInfinity);
                var bestI = new Vector<long>(-1);
                var lanes = LaneIndices();
                var minusInf = new Vector<double>(double.NegativeInfinity);
                for (; t <= active - width; t += width)
                {
                    var vy = new Vector<double>(y, t);
                    var va = new Vector<double>(alpha, t);
                    var vb = new Vector<double>(bound, t);
                    var up = Vector.ConditionalSelect(Vector.GreaterThan(vy, Vector<double>.Zero), Vector.LessThan(va, vb), Vector.GreaterThan(va, Vector<double>.Zero));
                    var value = Vector.ConditionalSelect(up, -new Vector<double>(f, t), minusInf);
                    var take = Vector.BitwiseAnd(Vector.GreaterThanOrEqual(value, bestV), up);
                    bestV = Vector.ConditionalSelect(take, value, bestV);
                    bestI = Vector.ConditionalSelect(take, lanes + new Vector<long>(t), bestI);
                }
                for (int k = 0; k < width; k++)
                {
                    if (bestI[k] < 0) continue;
                    if (bestV[k] > best || (bestV[k] == best && bestI[k] > index)) { best = bestV[k]; index = (int)bestI[k]; }
                }
            }
            for (; t < active; t++)
            {
                bool up = y[t] > 0 ? alpha[t] < bound[t] : alpha[t] > 0;
                if (up && -f[t] >= best) { best = -f[t]; index = t; }
            }
            return best;
        }

        /// <summary>
        /// Over t in I_low among [0, active): returns max F_t (M's side of the gap) and gives the t minimising
        /// -(b^2 / a), b = gMax + F_t &gt; 0, a = K_ii + K_tt - 2 K_it (LIBSVM's tau 1e-12 where a &lt;= 0), the last of ties.
        /// </summary>
        private double BestInLow(int active, double gMax, out int index)
        {
            double[] f = _f, y = _y, alpha = _alpha, bound = _bound, ki = _ki;
            double gMax2 = double.NegativeInfinity, best = double.PositiveInfinity;
            index = -1;
            int t = 0, width = Vector<double>.Count;
            if (Vector.IsHardwareAccelerated && active >= 2 * width)
            {
                var maxV = new Vector<double>(double.NegativeInfinity);
                var bestV = new Vector<double>(double.PositiveInfinity);
                var bestI = new Vector<long>(-1);
                var lanes = LaneIndices();
                var gMaxV = new Vector<double>(gMax);
                var two = new Vector<double>(2.0);
                var tau = new Vector<double>(1e-12);
                for (; t <= active - width; t += width)
                {
                    var vy = new Vector<double>(y, t);
                    var va = new Vector<double>(alpha, t);
                    var vb = new Vector<double>(bound, t);
                    var low = Vector.ConditionalSelect(Vector.GreaterThan(vy, Vector<double>.Zero), Vector.GreaterThan(va, Vector<double>.Zero), Vector.LessThan(va, vb));
                    var vf = new Vector<double>(f, t);
                    maxV = Vector.ConditionalSelect(low, Vector.Max(maxV, vf), maxV);
                    var b = gMaxV + vf;
                    var a = two - two * new Vector<double>(ki, t);
                    a = Vector.ConditionalSelect(Vector.GreaterThan(a, Vector<double>.Zero), a, tau);
                    var objective = -(b * b) / a;
                    var take = Vector.BitwiseAnd(Vector.BitwiseAnd(low, Vector.GreaterThan(b, Vector<double>.Zero)), Vector.LessThanOrEqual(objective, bestV));
                    bestV = Vector.ConditionalSelect(take, objective, bestV);
                    bestI = Vector.ConditionalSelect(take, lanes + new Vector<long>(t), bestI);
                }
                for (int k = 0; k < width; k++)
                {
                    gMax2 = Math.Max(gMax2, maxV[k]);
                    if (bestI[k] < 0) continue;
                    if (bestV[k] < best || (bestV[k] == best && bestI[k] > index)) { best = bestV[k]; index = (int)bestI[k]; }
                }
            }
            for (; t < active; t++)
            {
                bool low = y[t] > 0 ? alpha[t] > 0 : alpha[t] < bound[t];
                if (!low) continue;
                double ft = f[t];
                if (ft >= gMax2) gMax2 = ft;
                double b = gMax + ft;
                if (b > 0)
                {
                    double a = 2.0 - 2.0 * ki[t];
                    if (a <= 0) a = 1e-12;
                    double objective = -b * b / a;
                    if (objective <= best) { best = objective; index = t; }
                }
            }
            return gMax2;
        }

        private static Vector<long> LaneIndices()
        {
            Span<long> lanes = stackalloc long[Vector<long>.Count];
            for (int k = 0; k < lanes.Length; k++) lanes[k] = k;
            return new Vector<long>(lanes);
        }

        /// <summary>The analytic two-variable step, then the gradient (active part) and the bounded part's gradient.</summary>
        private void Step(int i, int j)
        {
            Column(j, 0, _active, _kj);
            bool wasUpperI = AtUpper(i), wasUpperJ = AtUpper(j);
            double oldI = _alpha[i], oldJ = _alpha[j];
            Update(i, j, _ki[j]);
            double deltaI = _alpha[i] - oldI, deltaJ = _alpha[j] - oldJ;
            if (deltaI == 0 && deltaJ == 0) return;
            double di = _y[i] * deltaI, dj = _y[j] * deltaJ;
            double[] f = _f, ki = _ki, kj = _kj;
            int active = _active;
            TensorPrimitives.MultiplyAdd(ki.AsSpan(0, active), di, f.AsSpan(0, active), f.AsSpan(0, active));
            TensorPrimitives.MultiplyAdd(kj.AsSpan(0, active), dj, f.AsSpan(0, active), f.AsSpan(0, active));
            UpdateBoundedPart(i, wasUpperI, _ki);
            UpdateBoundedPart(j, wasUpperJ, _kj);
        }

        /// <summary>
        /// F-bar follows a variable that reached or left its upper bound, over every position. <paramref name="column"/>
        /// holds K(x_i, .) over the active part already; only the inactive part is computed (into it: the caller is done with it).
        /// </summary>
        private void UpdateBoundedPart(int i, bool wasUpper, double[] column)
        {
            bool upper = AtUpper(i);
            if (upper == wasUpper) return;
            Column(i, _active, _n, column);
            double scale = (upper ? 1 : -1) * _bound[i] * _y[i];
            TensorPrimitives.MultiplyAdd(column, scale, _fBar, _fBar);
        }

        /// <summary>
        /// The two-variable step of SMO, clipped to the boxes 0 &lt;= a_i &lt;= ci, 0 &lt;= a_j &lt;= cj (LIBSVM's update,
        /// written from the dual: the pair moves along the line that keeps y'a fixed, cut where it leaves either box).
        /// </summary>
        private void Update(int i, int j, double kij)
        {
            double[] alpha = _alpha;
            double ci = _bound[i], cj = _bound[j];
            double quad = 2.0 - 2.0 * kij;
            if (quad <= 0) quad = 1e-12;
            double gi = _y[i] * _f[i], gj = _y[j] * _f[j];
            if (_y[i] != _y[j])
            {
                double delta = (-gi - gj) / quad;
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
                double delta = (gi - gj) / quad;
                double sum = alpha[i] + alpha[j];
                alpha[i] -= delta;
                alpha[j] += delta;
                if (sum > ci) { if (alpha[i] > ci) { alpha[i] = ci; alpha[j] = sum - ci; } }
                else if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = sum; }
                if (sum > cj) { if (alpha[j] > cj) { alpha[j] = cj; alpha[i] = sum - cj; } }
                else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = sum; }
            }
        }

        /// <summary>
        /// LIBSVM's shrinking: a bounded variable whose gradient says it would only move further out of the box than the
        /// current most violating pair is set aside. Once the gap falls below 10x the tolerance, every variable is brought
        /// back once (its gradient rebuilt) and shrinking starts over with accurate gradients.
        /// </summary>
        private void Shrink(double tolerance)
        {
            double gMax1 = double.NegativeInfinity, gMax2 = double.NegativeInfinity; // max over I_up of -F, over I_low of F
            for (int t = 0; t < _active; t++)
            {
                if (InUp(t)) gMax1 = Math.Max(gMax1, -_f[t]);
                if (InLow(t)) gMax2 = Math.Max(gMax2, _f[t]);
            }
            if (!_unshrunk && gMax1 + gMax2 <= tolerance * 10)
            {
                _unshrunk = true;
                ReconstructGradient();
                _active = _n;
            }
            for (int t = 0; t < _active; t++)
            {
                if (!CanShrink(t, gMax1, gMax2)) continue;
                _active--;
                while (_active > t)
                {
                    if (!CanShrink(_active, gMax1, gMax2)) { Swap(t, _active); break; }
                    _active--;
                }
            }
        }

        /// <summary>A variable only in I_up shrinks when F_t &gt; max F over I_low; one only in I_low when -F_t &gt; max -F over I_up.</summary>
        private bool CanShrink(int t, double gMax1, double gMax2)
        {
            bool up = InUp(t), low = InLow(t);
            if (up && low) return false; // free
            return up ? _f[t] > gMax2 : -_f[t] > gMax1;
        }

        /// <summary>F of the inactive positions from scratch: F-bar minus y, plus the free variables' part.</summary>
        private void ReconstructGradient()
        {
            if (_active == _n) return;
            for (int t = _active; t < _n; t++) _f[t] = _fBar[t] - _y[t];
            for (int s = 0; s < _active; s++)
            {
                if (AtUpper(s) || AtLower(s)) continue;
                Column(s, _active, _n, _scratch);
                double scale = _alpha[s] * _y[s];
                var rest = _f.AsSpan(_active);
                TensorPrimitives.MultiplyAdd(_scratch.AsSpan(_active), scale, rest, rest);
            }
        }

        private void Swap(int a, int b)
        {
            (_rows[a], _rows[b]) = (_rows[b], _rows[a]);
            if (_x is not null) (_x[a], _x[b]) = (_x[b], _x[a]);
            (_y[a], _y[b]) = (_y[b], _y[a]);
            (_alpha[a], _alpha[b]) = (_alpha[b], _alpha[a]);
            (_bound[a], _bound[b]) = (_bound[b], _bound[a]);
            (_f[a], _f[b]) = (_f[b], _f[a]);
            (_fBar[a], _fBar[b]) = (_fBar[b], _fBar[a]);
            (_index[a], _index[b]) = (_index[b], _index[a]);
        }

        /// <summary>rho: the mean of y_i G_i over free vectors, else the middle of the feasible interval (LIBSVM's calculate_rho).</summary>
        private double Rho()
        {
            double upper = double.PositiveInfinity, lower = double.NegativeInfinity, sum = 0;
            int free = 0;
            for (int t = 0; t < _n; t++)
            {
                double yg = _f[t];
                if (AtUpper(t))
                {
                    if (_y[t] < 0) upper = Math.Min(upper, yg); else lower = Math.Max(lower, yg);
                }
                else if (AtLower(t))
                {
                    if (_y[t] > 0) upper = Math.Min(upper, yg); else lower = Math.Max(lower, yg);
                }
                else
                {
                    free++;
                    sum += yg;
                }
            }
            return free > 0 ? sum / free : (upper + lower) / 2;
        }

        /// <summary>The classifier: support vectors in input order.</summary>
        public RbfSupportVectorClassifier Result(double[][] features, double[]? weights, double c, double gamma)
        {
            double rho = Rho();
            var byInput = new double[_n];
            for (int t = 0; t < _n; t++) byInput[_index[t]] = _alpha[t] * _y[t];
            var sv = new List<double[]>();
            var coef = new List<double>();
            double represented = 0;
            for (int t = 0; t < _n; t++)
            {
                if (byInput[t] == 0) continue;
                sv.Add(features[t]);
                coef.Add(byInput[t]);
                // 1e-9: a share filled to C by the solver's arithmetic may sit a rounding above a whole number of copies.
                represented += weights is null ? 1 : Math.Min(weights[t], Math.Ceiling(Math.Abs(byInput[t]) / c - 1e-9));
            }
            return new RbfSupportVectorClassifier([.. sv], [.. coef], rho, gamma, Iterations, (int)Math.Round(represented));
        }
    }
}
