namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary>
/// Student's t distribution with a whole number of degrees of freedom: its two-sided probability and its quantiles, for the
/// interval over seeds (<see cref="SeedInterval"/>).
/// </summary>
/// <remarks>
/// For whole nu the two-sided probability A(t | nu) = P(|T| &lt;= t) has a closed form in theta = atan(t / sqrt(nu))
/// (Abramowitz and Stegun, Handbook of Mathematical Functions, 26.7.3 and 26.7.4): nu = 1: 2 theta / pi; nu odd:
/// (2 / pi) (theta + sin theta cos theta (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ... up to cos^(nu-3))); nu even:
/// sin theta (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(nu-2)). A grows with theta on (0, pi/2), so a quantile is
/// found by bisection on theta to the last bit of a double, with no special function and no table.
/// </remarks>
public static class StudentT
{
    /// <summary>P(|T| &lt;= t) for T ~ t(<paramref name="degreesOfFreedom"/>); t &gt;= 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Degrees of freedom below 1, or t negative or NaN.</exception>
    public static double TwoSidedProbability(double t, int degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degreesOfFreedom, 1);
        if (!(t >= 0)) throw new ArgumentOutOfRangeException(nameof(t), t, "t must be 0 or more");
        if (double.IsPositiveInfinity(t)) return 1;
        return OfAngle(Math.Atan(t / Math.Sqrt(degreesOfFreedom)), degreesOfFreedom);
    }

    /// <summary>A(theta) of the remarks: the probability that |T| is at most sqrt(nu) tan theta.</summary>
    static double OfAngle(double theta, int nu)
    {
        double sin = Math.Sin(theta), cos = Math.Cos(theta), cos2 = cos * cos;
        if (nu % 2 == 1)
        {
            if (nu == 1) return 2 * theta / Math.PI;
            // 1 + 2/3 c^2 + (2*4)/(3*5) c^4 + ... : term k+1 = term k * (2k) / (2k + 1) * c^2, up to c^(nu-3).
            double sum = 1, term = 1;
            for (int k = 1; 2 * k <= nu - 3; k++)
            {
                term *= 2.0 * k / (2.0 * k + 1) * cos2;
                sum += term;
            }
            return 2 / Math.PI * (theta + sin * cos * sum);
        }
        else
        {
            // 1 + 1/2 c^2 + (1*3)/(2*4) c^4 + ... : term k+1 = term k * (2k - 1) / (2k) * c^2, up to c^(nu-2).
            double sum = 1, term = 1;
            for (int k = 1; 2 * k <= nu - 2; k++)
            {
                term *= (2.0 * k - 1) / (2.0 * k) * cos2;
                sum += term;
            }
            return sin * sum;
        }
    }

    /// <summary>
    /// The quantile t_p with P(T &lt;= t_p) = <paramref name="probability"/> for p in [0.5, 1): the 97.5% quantile (p = 0.975)
    /// is the half-width factor of a two-sided 95% interval (12.706 for 1 degree of freedom, 4.303 for 2, 2.262 for 9).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">p outside [0.5, 1) or degrees of freedom below 1.</exception>
    public static double Quantile(double probability, int degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degreesOfFreedom, 1);
        if (!(probability >= 0.5 && probability < 1)) throw new ArgumentOutOfRangeException(nameof(probability), probability, "p must be in [0.5, 1)");
        double target = 2 * probability - 1;   // the two-sided probability
        double low = 0, high = Math.PI / 2;
        // Bisection on theta: A is increasing on [0, pi/2); stop when the interval no longer shrinks in doubles.
        while (true)
        {
            double mid = 0.5 * (low + high);
            if (mid <= low || mid >= high) break;
            if (OfAngle(mid, degreesOfFreedom) < target) low = mid; else high = mid;
        }
        return Math.Sqrt(degreesOfFreedom) * Math.Tan(0.5 * (low + high));
    }
}
