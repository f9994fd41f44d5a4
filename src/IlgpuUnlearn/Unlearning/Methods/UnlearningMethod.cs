using System.Globalization;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// One unlearning method of <c>unlearn --method</c>: its names, where its defaults come from, its defaults, its own settings
/// (<see cref="Parameters"/>) and its loop (<see cref="Run"/>, on the shared <see cref="MethodLoop"/>). A method is one file
/// deriving from this class plus one line in <see cref="MethodRegistry"/>; docs/methods.md writes each one's equations out.
/// </summary>
public abstract class UnlearningMethod
{
    /// <summary>As reports, manifests and file names write it: AdvNegGrad, FT, SalUn, DELETE ...</summary>
    public abstract string Name { get; }

    /// <summary>The <c>--method</c> spelling (lower case).</summary>
    public virtual string OptionName => Name.ToLowerInvariant();

    /// <summary>What the method does, in a few words, for --help and README.</summary>
    public abstract string Summary { get; }

    /// <summary>Where the method and its defaults come from (paper, repository and files).</summary>
    public abstract string Source { get; }

    /// <summary>The method's settings as its source sets them.</summary>
    public abstract MethodSettings Defaults { get; }

    /// <summary>The method's own settings beyond the optimiser and the data order (command-line options, manifest keys).</summary>
    public virtual IReadOnlyList<MethodParameter> Parameters => [];

    /// <summary>The schedule when none is given (stepped per epoch): MultiStepLR([80, 120], 0.2) unless the method says otherwise.</summary>
    public virtual LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.MultiStep([80, 120], 0.2);

    /// <summary>
    /// Whether the method takes optimiser steps (false: SSD, LFSSD, which only measure gradients and edit the weights). A method
    /// that takes none ignores the optimiser's settings, so the command line refuses each of <see cref="StepOptions"/> for it.
    /// </summary>
    public virtual bool TakesOptimizerStep => true;

    /// <summary>The common options that set the optimiser, its schedule or the number of steps (meaningless without a step).</summary>
    public static readonly IReadOnlyList<string> StepOptions =
        ["--epochs", "--lr", "--lr-schedule", "--momentum", "--weight-decay", "--nesterov", "--no-nesterov", "--clip", "--max-steps"];

    /// <summary>
    /// What a run with settings <paramref name="s"/> draws from <see cref="MethodSettings.Seed"/>, in words ("data order",
    /// "crop-flip augmentation", "random forget labels" ...); empty when nothing, so that every seed gives the same model
    /// (SSD and LFSSD always; a method in file order without augmentation unless it draws something of its own).
    /// </summary>
    public IReadOnlyList<string> SeededDraws(MethodSettings s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var draws = new List<string>();
        if (ReadsSeededBatches && s.Shuffle) draws.Add("data order");
        if (ReadsSeededBatches && s.Augment) draws.Add("crop-flip augmentation");
        draws.AddRange(OwnDraws);
        return draws;
    }

    /// <summary>Whether the method reads its images through the seeded batches (<see cref="MethodLoop"/>, <see cref="GradientMeasure"/>): false for SSD and LFSSD, which sum over every image in file order.</summary>
    protected virtual bool ReadsSeededBatches => true;

    /// <summary>What the method itself draws from the seed whatever the data order (random labels, an initialisation ...).</summary>
    protected virtual IEnumerable<string> OwnDraws => [];

    /// <summary>Whether the method reads the retain set / the forget set (a run without one is refused).</summary>
    public virtual bool NeedsRetain => true;
    public virtual bool NeedsForget => true;

    /// <summary>The settings in words, without the method's name: the common part, then the method's own settings.</summary>
    public virtual string Describe(MethodSettings s)
    {
        string own = string.Join(", ", Parameters.Select(p => $"{p.Option.TrimStart('-').Replace('-', ' ')} {p.Format(s[p.Option])}"));
        return s.CommonText + (own.Length == 0 ? "" : ", " + own);
    }

    /// <summary>Runs the method on <see cref="MethodLoop.Model"/> (holding the original model when called).</summary>
    public abstract void Run(MethodLoop loop);

    public MethodParameter Parameter(string option) =>
        Parameters.FirstOrDefault(p => p.Option == option) ?? throw new ArgumentException($"{option} is not a setting of {Name}");

    public override string ToString() => Name;
}

/// <summary>
/// One of a method's own settings: its option (<c>--alpha</c>), default, help text, and the range it must lie in
/// (<paramref name="Rule"/> in words, <paramref name="IsValid"/> as a test). <paramref name="Whole"/>: a whole number;
/// <paramref name="Flag"/>: a switch (0 off, 1 on). Kept as a double: a float setting converts back exactly.
/// </summary>
public sealed record MethodParameter(string Option, double Default, string Help, string Rule, Func<double, bool> IsValid,
    bool Whole = false, bool Flag = false)
{
    /// <summary>The manifest key: the option without dashes, words joined by '_' (saliency_threshold).</summary>
    public string Key => Option.TrimStart('-').Replace('-', '_');

    public string Format(double value) => Flag ? (value != 0 ? "True" : "False")
        : Whole ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>ArgumentException "--x must be RULE, got V" when out of range.</summary>
    public void Check(double value)
    {
        bool ok = double.IsFinite(value) && (!Whole || Math.Floor(value) == value) && IsValid(value);
        if (!ok) throw new ArgumentException($"{Option} must be {Rule}, got {Format(value)}");
    }

    public static MethodParameter Fraction(string option, double @default, string help) =>
        new(option, @default, help, "in [0, 1]", v => v >= 0 && v <= 1);
    public static MethodParameter Positive(string option, double @default, string help) =>
        new(option, @default, help, "> 0", v => v > 0);
    public static MethodParameter NonNegative(string option, double @default, string help) =>
        new(option, @default, help, ">= 0", v => v >= 0);
    public static MethodParameter Count(string option, double @default, string help, int min = 1) =>
        new(option, @default, help, min == 0 ? ">= 0" : $"at least {min}", v => v >= min, Whole: true);
    public static MethodParameter Switch(string option, string help) => new(option, 0, help, "0 or 1", v => v is 0 or 1, Flag: true);
}
