using System.Globalization;

namespace IlgpuUnlearn.Training;

/// <summary>
/// A learning rate per epoch, stepped once per epoch as PyTorch's schedulers are when <c>scheduler.step()</c> follows
/// each epoch: <see cref="RateAt"/>(base, e) is the rate used for every step of epoch e (0-based).
/// <list type="bullet">
/// <item><see cref="Constant"/>: lr_e = lr.</item>
/// <item><see cref="Cosine"/>: torch.optim.lr_scheduler.CosineAnnealingLR's closed form (its docstring, SGDR, Loshchilov and
/// Hutter 2017): lr_e = eta_min + (lr - eta_min) (1 + cos(pi e / T_max)) / 2. Past T_max it rises again, as PyTorch's does.</item>
/// <item><see cref="MultiStep"/>: torch.optim.lr_scheduler.MultiStepLR: lr_e = lr gamma^(number of milestones &lt;= e).</item>
/// </list>
/// Computed in double from the base rate each time (no recursion), so a resumed run gets the same rate as an unbroken one.
/// </summary>
public abstract record LearningRateSchedule
{
    /// <summary>The rate of epoch <paramref name="epoch"/> (0-based, >= 0).</summary>
    public abstract double RateAt(double baseRate, int epoch);

    /// <summary>How the schedule is written on the command line and in logs: constant, cosine:200, multistep:80,120:0.2.</summary>
    public abstract override string ToString();

    public sealed record Constant : LearningRateSchedule
    {
        public override double RateAt(double baseRate, int epoch) { CheckEpoch(epoch); return baseRate; }
        public override string ToString() => "constant";
    }

    /// <param name="TMax">Epochs of the half cosine (>= 1); the Comparator's base and FT recipes use T_max = epochs.</param>
    /// <param name="EtaMin">The floor (PyTorch's default 0).</param>
    public sealed record Cosine(int TMax, double EtaMin = 0) : LearningRateSchedule
    {
        public override double RateAt(double baseRate, int epoch)
        {
            CheckEpoch(epoch);
            return EtaMin + (baseRate - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
        }
        public override string ToString() => EtaMin == 0 ? $"cosine:{TMax}" : $"cosine:{TMax}:{EtaMin.ToString("R", CultureInfo.InvariantCulture)}";
    }

    /// <param name="Milestones">Epochs at which the rate is multiplied by <paramref name="Gamma"/> (the Comparator's unlearning
    /// methods: 80 and 120, gamma 0.2).</param>
    public sealed record MultiStep(IReadOnlyList<int> Milestones, double Gamma) : LearningRateSchedule
    {
        public override double RateAt(double baseRate, int epoch)
        {
            CheckEpoch(epoch);
            int passed = Milestones.Count(m => m <= epoch);
            return baseRate * Math.Pow(Gamma, passed);
        }
        public override string ToString() =>
            $"multistep:{string.Join(",", Milestones)}:{Gamma.ToString("R", CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// Reads "constant", "cosine" (T_max = <paramref name="epochs"/>), "cosine:T" or "cosine:T:eta_min",
    /// "multistep:m1,m2,...:gamma". Throws ArgumentException naming <paramref name="option"/> on anything else.
    /// </summary>
    public static LearningRateSchedule Parse(string text, int epochs, string option = "--lr-schedule")
    {
        string[] parts = text.Trim().ToLowerInvariant().Split(':');
        string Bad(string why) => $"{option} '{text}': {why} (constant, cosine, cosine:T_MAX[:ETA_MIN], multistep:M1,M2,...:GAMMA)";
        static bool Int(string s, out int v) => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out v);
        static bool Real(string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && double.IsFinite(v);
        switch (parts[0])
        {
            case "constant" when parts.Length == 1:
                return new Constant();
            case "cosine" when parts.Length <= 3:
            {
                int tMax = epochs;
                double etaMin = 0;
                if (parts.Length >= 2 && (!Int(parts[1], out tMax) || tMax < 1)) throw new ArgumentException(Bad("T_max must be a whole number >= 1"));
                if (parts.Length == 3 && (!Real(parts[2], out etaMin) || etaMin < 0)) throw new ArgumentException(Bad("eta_min must be a number >= 0"));
                if (tMax < 1) throw new ArgumentException(Bad("T_max = epochs must be >= 1"));
                return new Cosine(tMax, etaMin);
            }
            case "multistep" when parts.Length == 3:
            {
                var milestones = new List<int>();
                foreach (var m in parts[1].Split(','))
                    if (!Int(m, out int v) || v < 1) throw new ArgumentException(Bad($"milestone '{m}' must be a whole number >= 1"));
                    else milestones.Add(v);
                for (int i = 1; i < milestones.Count; i++)
                    if (milestones[i] <= milestones[i - 1]) throw new ArgumentException(Bad("milestones must increase"));
                if (!Real(parts[2], out double gamma) || gamma <= 0) throw new ArgumentException(Bad("gamma must be a number > 0"));
                return new MultiStep(milestones, gamma);
            }
            default:
                throw new ArgumentException(Bad("unknown schedule"));
        }
    }

    static void CheckEpoch(int epoch) => ArgumentOutOfRangeException.ThrowIfNegative(epoch);
}
