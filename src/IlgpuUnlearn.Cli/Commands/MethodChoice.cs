using System.Globalization;
using System.Reflection;
using CommandLine;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// unlearn's method and its settings, checked before anything loads: the method from <see cref="MethodRegistry"/>, its
/// defaults, and each option given on the command line overriding one. The method's own options (--alpha, --msteps ...) are
/// found by name: each is a property of <see cref="UnlearnOptions"/> whose long name is one of a registered method's
/// <see cref="MethodParameter.Option"/>s.
/// </summary>
internal sealed record MethodChoice(MethodSettings Settings)
{
    /// <summary>As reports, manifests and file names write it: AdvNegGrad, FT, GA, RL, SalUn, SCRUB ...</summary>
    public string Name => Settings.Method.Name;

    public int BatchSize => Settings.BatchSize;

    public MethodChoice WithBatchSize(int batch) => new(Settings with { BatchSize = batch });

    /// <summary>These settings with another seed (one run of unlearn --seeds).</summary>
    public MethodChoice WithSeed(int seed) => new(Settings with { Seed = seed });

    /// <summary>The settings in words, without the method's name.</summary>
    public override string ToString() =>
        Settings.Method.Describe(Settings) + (Settings.MaxSteps is { } s ? $", at most {s} step(s)" : "") +
        (Settings.Recipe is { } r ? $", recipe {r}" : "");

    /// <summary>Runs the method on <paramref name="model"/> (loaded with the base model). Returns the steps and the images forwarded and backpropagated.</summary>
    public (int Steps, long Images) Run(ResNet18 model, ImageDataset train, int k, Action<StepProgress> progress, CancellationToken cancel,
        Action<string>? note = null) =>
        MethodRun.Run(model, train, k, Settings, progress, cancel, note);

    /// <summary>The settings as the run manifest records them.</summary>
    public IEnumerable<(string Key, string Value)> ManifestEntries() => Settings.ManifestEntries();

    /// <summary>For --help: each method, what it does, its own options and defaults, and where they come from.</summary>
    public static IEnumerable<string> HelpLines()
    {
        yield return "Recipes (--recipe NAME, or a recipe file or a run's manifest):";
        foreach (var r in Recipe.BuiltIn) yield return $"  {r.Name}{(r.Method is null ? "" : $" (--method {r.Method})")}: {r.Source}.";
        yield return "Methods (--method; every default follows the method, each option overrides one):";
        foreach (var m in MethodRegistry.All)
        {
            var d = m.Defaults;
            yield return $"  {m.OptionName}: {m.Summary}.";
            yield return $"      defaults: {m.Describe(d)}.";
            // A switch's default in words ("off"), not the manifest's "False".
            foreach (var p in m.Parameters) yield return $"      {p.Option}: {p.Help} (default {(p.Flag ? (p.Default != 0 ? "on" : "off") : p.Format(p.Default))}).";
            yield return $"      source: {m.Source}.";
        }
    }

    /// <summary>The method options of <see cref="UnlearnOptions"/>: (option, property) for every registered method's own setting.</summary>
    static IEnumerable<(string Option, PropertyInfo Property)> MethodOptions() =>
        typeof(UnlearnOptions).GetProperties()
            .Select(p => (Property: p, Attribute: p.GetCustomAttribute<OptionAttribute>()))
            .Where(x => x.Attribute is not null && MethodRegistry.OwnerOf("--" + x.Attribute.LongName) is not null)
            .Select(x => ("--" + x.Attribute!.LongName, x.Property));

    /// <summary>The long names (--lr) of the options that hold a value (always so for those with a parser default) or a switch that is on.</summary>
    static IEnumerable<string> GivenOptions(UnlearnOptions o) =>
        typeof(UnlearnOptions).GetProperties()
            .Select(p => (Value: p.GetValue(o), Attribute: p.GetCustomAttribute<OptionAttribute>()))
            .Where(x => x.Attribute is not null && x.Value is not (null or false))
            .Select(x => "--" + x.Attribute!.LongName);

    /// <summary>A given option's value as a double (null: not given); a float converts through its shortest text (0.15f is 0.15).</summary>
    static double? ValueOf(object? value) => value switch
    {
        null or false => null,
        true => 1,
        float f => double.Parse(f.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
        IConvertible c => c.ToDouble(CultureInfo.InvariantCulture),
        _ => throw new InvalidOperationException($"option value {value} is not a number"),
    };

    /// <summary>Every registered method's setting has an option in <see cref="UnlearnOptions"/> (the options a new method needs).</summary>
    public static IEnumerable<string> OptionsWithoutProperty()
    {
        var known = MethodOptions().Select(o => o.Option).ToHashSet();
        return MethodRegistry.All.SelectMany(m => m.Parameters).Select(p => p.Option).Where(o => !known.Contains(o)).Distinct();
    }

    /// <summary>Reads --method and every hyper-parameter option; one-line UserError or ArgumentException for anything wrong.</summary>
    public static MethodChoice FromOptions(UnlearnOptions o)
    {
        UnlearningMethod method;
        Recipe? recipe;
        try
        {
            recipe = o.Recipe is { } r ? Recipe.Load(r) : null;
            method = MethodRegistry.Find(o.Method ?? recipe?.Method ?? "advneggrad");
        }
        catch (ArgumentException e)
        {
            // A misspelt method gets the nearest name, as a misspelt option does.
            string? meant = o.Method is { } typed ? ParserErrors.Nearest(typed.ToLowerInvariant(), MethodRegistry.All.Select(m => m.OptionName)) : null;
            throw new UserError(meant is null ? e.Message : $"{e.Message}; did you mean {meant}?");
        }
        if (recipe is { Method: { } owner } && method.OptionName != owner)
            throw new UserError($"--recipe {recipe.Name} is for --method {owner}, not {method.OptionName}");
        if (recipe is { Method: null } && !Comparator.Methods.Contains(method.OptionName))
            throw new UserError($"--recipe {recipe.Name} is for the Comparator's methods (ft, ga, rl, salun, scrub), not {method.OptionName}");
        if (!method.TakesOptimizerStep && GivenOptions(o).FirstOrDefault(UnlearningMethod.StepOptions.Contains) is { } stepOption)
            throw new UserError($"{stepOption} does not apply to --method {method.OptionName}: {method.OptionName} takes no optimiser step");
        var d = recipe?.Apply(method.Defaults) ?? method.Defaults;
        var values = d.Values;
        foreach (var (option, property) in MethodOptions())
        {
            if (ValueOf(property.GetValue(o)) is not { } value) continue;
            if (!method.Parameters.Any(p => p.Option == option))
                throw new UserError($"{option} applies to --method {string.Join(" or ", MethodRegistry.All.Where(m => m.Parameters.Any(p => p.Option == option)).Select(m => m.OptionName))} only, not {method.OptionName}");
            values = values.SetItem(option, value);
        }
        if (o.Nesterov && o.NoNesterov) throw new UserError("--nesterov and --no-nesterov contradict each other");
        bool? augment = o.Augment?.ToLowerInvariant() switch
        {
            null => null,
            "crop-flip" => true,
            "none" => false,
            _ => throw new UserError($"--augment '{o.Augment}': use crop-flip or none"),
        };
        int epochs = PlanChecks.AtLeast(o.Epochs ?? d.Epochs, 1, "--epochs");
        var settings = d with
        {
            Epochs = epochs, BatchSize = PlanChecks.AtLeast(o.BatchSize ?? d.BatchSize, 1, "--batch-size"),
            LearningRate = ValueOf(o.LearningRate) ?? d.LearningRate, Momentum = o.Momentum ?? d.Momentum, WeightDecay = o.WeightDecay ?? d.WeightDecay,
            Nesterov = o.Nesterov || (d.Nesterov && !o.NoNesterov), Clip = o.Clip ?? d.Clip,
            Schedule = o.LearningRateSchedule is { } text ? LearningRateSchedule.Parse(text, epochs) : d.Schedule,
            Seed = o.Seed ?? d.Seed, Shuffle = !o.NoShuffle, Augment = augment ?? d.Augment,
            MaxSteps = o.MaxSteps is { } ms ? PlanChecks.AtLeast(ms, 1, "--max-steps") : d.MaxSteps, Values = values,
        };
        settings.Validate();
        return new MethodChoice(settings);
    }
}
