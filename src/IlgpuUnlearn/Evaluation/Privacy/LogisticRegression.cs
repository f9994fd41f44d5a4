namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// Binary logistic regression on one feature with an intercept, fitted as scikit-learn's default LogisticRegression():
/// minimise C sum_i log(1 + exp(-y_i (w x_i + b))) + w^2 / 2 (L2 on the weight, not the intercept; C = 1), y in {-1, +1}.
/// The objective is strictly convex in (w, b) once both classes are present, so Newton's method (with step halving)
/// reaches the optimum scikit-learn's L-BFGS approaches to its tolerance; the tests compare the two on the same data.
/// </summary>
public sealed record LogisticRegression(double Weight, double Intercept)
{
    /// <summary>Fits on <paramref name="x"/> (n) with labels <paramref name="positive"/> (n; true is the +1 class, scikit-learn's classes_[1]).</summary>
    /// <exception cref="ArgumentException">Mismatched lengths, no data, or only one class.</exception>
    public static LogisticRegression Fit(ReadOnlySpan<double> x, ReadOnlySpan<bool> positive, double c = 1.0)
    {
        if (x.Length == 0 || x.Length != positive.Length) throw new ArgumentException($"{x.Length} values and {positive.Length} labels");
        if (!positive.Contains(true) || !positive.Contains(false)) throw new ArgumentException("both classes are needed to fit a classifier");
        double w = 0, b = 0;
        var (current, gw, gb, hww, hwb, hbb) = Pass(x, positive, c, w, b);
        for (int iteration = 0; iteration < 100; iteration++)
        {
            double det = hww * hbb - hwb * hwb;
            if (!(det > 0)) break;
            double stepW = (hbb * gw - hwb * gb) / det, stepB = (hww * gb - hwb * gw) / det;
            // Newton's step, halved while it does not lower the objective (one pass over the data per trial).
            double scale = 1;
            var next = Pass(x, positive, c, w - stepW, b - stepB);
            while (next.Objective > current && scale > 1e-10)
            {
                scale /= 2;
                next = Pass(x, positive, c, w - scale * stepW, b - scale * stepB);
            }
            w -= scale * stepW;
            b -= scale * stepB;
            (current, gw, gb, hww, hwb, hbb) = next;
            if (Math.Abs(scale * stepW) <= 1e-12 * (1 + Math.Abs(w)) && Math.Abs(scale * stepB) <= 1e-12 * (1 + Math.Abs(b))) break;
        }
        return new LogisticRegression(w, b);
    }

    /// <summary>w x + b; positive means the +1 class.</summary>
    public double Decision(double x) => Weight * x + Intercept;

    public bool Predict(double x) => Decision(x) > 0;

    /// <summary>The objective, its gradient and Hessian in (w, b), in one pass.</summary>
    private static (double Objective, double Gw, double Gb, double Hww, double Hwb, double Hbb) Pass(
        ReadOnlySpan<double> x, ReadOnlySpan<bool> positive, double c, double w, double b)
    {
        double sum = 0, gw = w, gb = 0, hww = 1, hwb = 0, hbb = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double y = positive[i] ? 1 : -1;
            double m = y * (w * x[i] + b);
            double e = Math.Exp(-Math.Abs(m));
            sum += (m > 0 ? 0 : -m) + double.LogP1(e);            // log(1 + e^-m), stably
            double s = m > 0 ? e / (1 + e) : 1 / (1 + e);          // sigmoid(-m) = -d/dm log(1 + e^-m)
            double h = s * (1 - s);
            gw -= c * y * x[i] * s;
            gb -= c * y * s;
            hww += c * h * x[i] * x[i];
            hwb += c * h * x[i];
            hbb += c * h;
        }
        return (c * sum + 0.5 * w * w, gw, gb, hww, hwb, hbb);
    }
}
