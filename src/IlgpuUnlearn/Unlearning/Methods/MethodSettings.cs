using System.Collections.Immutable;
using System.Globalization;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// Everything a method's run needs, the one settings type of every method: the optimiser (one <see cref="SgdUpdate"/> per
/// epoch from <see cref="UpdateAt"/>), the schedule, the data order, and the method's own settings (<see cref="Values"/>,
/// keyed by option, defaults in <see cref="UnlearningMethod.Parameters"/>). Each method's <see cref="UnlearningMethod.Defaults"/>
/// names the source of every value.
/// </summary>
public sealed record MethodSettings
{
    public required UnlearningMethod Method { get; init; }
    public int Epochs { get; init; } = 1;
    /// <summary>Images per step (AdvNegGrad: retain images, and as many forget images).</summary>
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 0.01;
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 5e-4f;
    public bool Nesterov { get; init; }
    /// <summary>Global gradient-norm clip (0: none).</summary>
    public float Clip { get; init; }
    /// <summary>Per-epoch schedule; null is the method's (<see cref="UnlearningMethod.DefaultSchedule"/>).</summary>
    public LearningRateSchedule? Schedule { get; init; }
    /// <summary>Seeds the shuffles, the augmentation, random labels, and whatever else the method draws.</summary>
    public int Seed { get; init; }
    public bool Shuffle { get; init; } = true;
    public bool Augment { get; init; }
    /// <summary>Stop after this many steps in all (a quick trial, a benchmark); null runs every epoch.</summary>
    public int? MaxSteps { get; init; }
    /// <summary>The recipe the settings came from (<see cref="Methods.Recipe"/>), null for the method's defaults.</summary>
    public string? Recipe { get; init; }
    /// <summary>The method's own settings given explicitly, by option (--alpha); the others take their defaults.</summary>
    public ImmutableDictionary<string, double> Values { get; init; } = ImmutableDictionary<string, double>.Empty;

    /// <summary>The method's setting <paramref name="option"/>: the value given, else its default.</summary>
    public double this[string option] => Values.TryGetValue(option, out double v) ? v : Method.Parameter(option).Default;

    /// <summary>These settings with <paramref name="option"/> set to <paramref name="value"/> (one of the method's own).</summary>
    public MethodSettings With(string option, double value)
    {
        Method.Parameter(option);
        return this with { Values = Values.SetItem(option, value) };
    }

    /// <summary>The schedule in force: <see cref="Schedule"/>, else the method's.</summary>
    public LearningRateSchedule EffectiveSchedule => Schedule ?? Method.DefaultSchedule(Epochs);

    /// <summary>The optimiser of epoch <paramref name="epoch"/> (0-based): the scheduled rate (in double, rounded once, as torch).</summary>
    public SgdUpdate UpdateAt(int epoch) =>
        new((float)EffectiveSchedule.RateAt(LearningRate, epoch), Momentum, WeightDecay, Nesterov, Clip);

    /// <summary>Throws ArgumentException naming the option that is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Epochs >= 1, $"--epochs must be at least 1, got {Epochs}");
        Check(BatchSize >= 1, $"--batch-size must be at least 1, got {BatchSize}");
        Check(double.IsFinite(LearningRate) && LearningRate > 0, $"--lr must be > 0, got {LearningRate}");
        new SgdUpdate((float)LearningRate, Momentum, WeightDecay, Nesterov, Clip).Validate();
        Check(MaxSteps is not { } m || m >= 1, $"--max-steps must be at least 1, got {MaxSteps}");
        foreach (var option in Values.Keys) Method.Parameter(option);
        foreach (var p in Method.Parameters) p.Check(this[p.Option]);
    }

    /// <summary>The settings every method shares, in words: "5 epoch(s), batch 128, SGD lr 0.01 momentum 0.9 ...".</summary>
    public string CommonText
    {
        get
        {
            var c = CultureInfo.InvariantCulture;
            return string.Create(c, $"{Epochs} epoch(s), batch {BatchSize}, SGD lr {LearningRate:R} momentum {Momentum:R} weight decay {WeightDecay:R}") +
                   $"{(Nesterov ? " Nesterov" : "")}, schedule {EffectiveSchedule}, " +
                   (Clip > 0 ? string.Create(c, $"clip {Clip:R}") : "no clipping") +
                   $", {(Shuffle ? "shuffled" : "file order")}, augment {(Augment ? "crop-flip" : "none")}, seed {Seed}";
        }
    }

    /// <summary>The settings as the run manifest records them: the shared keys, then the method's own (by <see cref="MethodParameter.Key"/>).</summary>
    public IEnumerable<(string Key, string Value)> ManifestEntries()
    {
        static string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        yield return ("method", Method.Name);
        yield return ("clip", Inv($"{Clip}"));
        yield return ("lr", Inv($"{LearningRate}"));
        yield return ("lr_schedule", EffectiveSchedule.ToString());
        yield return ("momentum", Inv($"{Momentum}"));
        yield return ("weight_decay", Inv($"{WeightDecay}"));
        yield return ("nesterov", Inv($"{Nesterov}"));
        yield return ("epochs", Inv($"{Epochs}"));
        yield return ("batch_size", Inv($"{BatchSize}"));
        yield return ("max_steps", MaxSteps is { } y ? Inv($"{y}") : "none");
        yield return ("seed", Inv($"{Seed}"));
        yield return ("shuffle", Inv($"{Shuffle}"));
        yield return ("augment", Augment ? "crop-flip" : "none");
        foreach (var p in Method.Parameters) yield return (p.Key, p.Format(this[p.Option]));
        yield return ("recipe", Recipe ?? "none");
    }

    /// <summary>One line for logs: "SCRUB: 5 epoch(s), batch 128, ...".</summary>
    public override string ToString() => $"{Method.Name}: {Method.Describe(this)}{(Recipe is null ? "" : $", recipe {Recipe}")}";
}
