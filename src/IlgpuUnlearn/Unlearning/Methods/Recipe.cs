using System.Globalization;
using System.Text.Json;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// A named set of a method's settings (<c>unlearn --recipe NAME|FILE</c>): a published configuration, or a file. The keys
/// are the run manifest's (<see cref="MethodSettings.ManifestEntries"/>: lr, lr_schedule, momentum, weight_decay, nesterov,
/// clip, epochs, batch_size, max_steps, seed, shuffle, augment and the method's own, such as alpha), so a run's manifest is
/// itself a recipe: its method settings replay. <see cref="Method"/> null: any method, its defaults (the Comparator's).
/// </summary>
public sealed record Recipe(string Name, string Source, string? Method, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>The keys of a manifest that describe the run rather than the method (ignored when replaying a manifest).</summary>
    static readonly HashSet<string> RunKeys = ["forget_class", "dataset", "steps_taken", "limit", "mean", "std", "eval_batch_size",
        "bootstrap", "collapse_threshold", "retrained", "recipe", "method"];

    public static readonly IReadOnlyList<Recipe> BuiltIn =
    [
        new("comparator", "the Machine Unlearning Comparator's settings, each method's defaults (ft, ga, rl, salun, scrub)", null,
            new Dictionary<string, string>()),
        new("advneggrad-card", "the model card of jaeunglee/resnet18-cifar10-unlearning: advneggrad's defaults", "advneggrad",
            new Dictionary<string, string>()),
        new("salun-card", "the sibling model card Yurim0507/SALUN: SGD lr 0.01 momentum 0.9 weight decay 5e-4 Nesterov, 8 epochs, batch 512, threshold 0.1 (its schedule is not stated: salun's)",
            "salun", new Dictionary<string, string>
            {
                ["lr"] = "0.01", ["momentum"] = "0.9", ["weight_decay"] = "0.0005", ["nesterov"] = "True", ["epochs"] = "8", ["batch_size"] = "512",
                ["saliency_threshold"] = "0.1",
            }),
        new("cfk-card", "the sibling model card Yurim0507/CF-k: SGD lr 0.1 momentum 0.9 weight decay 5e-4 Nesterov, cosine T_max 200, 62 epochs, batch 64 (cfk's defaults; k not stated)",
            "cfk", new Dictionary<string, string>
            {
                ["lr"] = "0.1", ["momentum"] = "0.9", ["weight_decay"] = "0.0005", ["nesterov"] = "True", ["lr_schedule"] = "cosine:200", ["epochs"] = "62", ["batch_size"] = "64",
            }),
    ];

    /// <summary>A built-in recipe by name, else a file: a run manifest (its method settings) or a JSON object of settings with
    /// "method". ArgumentException naming the recipe or file and what is wrong.</summary>
    public static Recipe Load(string nameOrFile)
    {
        if (BuiltIn.FirstOrDefault(r => string.Equals(r.Name, nameOrFile, StringComparison.OrdinalIgnoreCase)) is { } known) return known;
        if (!File.Exists(nameOrFile))
            throw new ArgumentException($"--recipe {nameOrFile}: neither a recipe ({string.Join(", ", BuiltIn.Select(r => r.Name))}) nor a file");
        Dictionary<string, string> settings;
        bool manifest;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(nameOrFile));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{nameOrFile}: a recipe is a JSON object");
            manifest = root.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.String && format.GetString() == RunManifest.FormatName;
            var source = manifest ? root.GetProperty("settings") : root;
            settings = source.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString()!,
                JsonValueKind.Number => p.Value.GetRawText(),
                JsonValueKind.True => "True",
                JsonValueKind.False => "False",
                _ => throw new ArgumentException($"{nameOrFile}: \"{p.Name}\" must be a string, number or true/false"),
            });
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{nameOrFile}: not JSON ({e.Message})");
        }
        if (!settings.TryGetValue("method", out string? method)) throw new ArgumentException($"{nameOrFile}: the recipe names no \"method\"");
        var m = MethodRegistry.FindByName(method);
        var own = settings.Where(kv => !RunKeys.Contains(kv.Key)).ToDictionary();
        if (manifest) own = own.Where(kv => SharedKeys.Contains(kv.Key) || m.Parameters.Any(p => p.Key == kv.Key)).ToDictionary();
        return new Recipe(nameOrFile, manifest ? "a run manifest" : "a recipe file", m.OptionName, own);
    }

    static readonly HashSet<string> SharedKeys = ["lr", "lr_schedule", "momentum", "weight_decay", "nesterov", "clip", "epochs", "batch_size",
        "max_steps", "seed", "shuffle", "augment"];

    /// <summary>The method's defaults with the recipe's values; ArgumentException naming the recipe, key and value when one is wrong.</summary>
    public MethodSettings Apply(MethodSettings defaults)
    {
        var s = defaults with { Recipe = Name };
        var c = CultureInfo.InvariantCulture;
        foreach (var (key, text) in Settings)
        {
            string Bad(string why) => $"recipe {Name}: {key} \"{text}\" {why}";
            double Number() => double.TryParse(text, NumberStyles.Float, c, out double v) && double.IsFinite(v) ? v : throw new ArgumentException(Bad("is not a number"));
            int Whole() => int.TryParse(text, NumberStyles.Integer, c, out int v) ? v : throw new ArgumentException(Bad("is not a whole number"));
            bool Flag() => bool.TryParse(text, out bool v) ? v : throw new ArgumentException(Bad("is not True or False"));
            s = key switch
            {
                "lr" => s with { LearningRate = Number() },
                "lr_schedule" => s with { Schedule = LearningRateSchedule.Parse(text, s.Epochs, $"recipe {Name}: lr_schedule") },
                "momentum" => s with { Momentum = (float)Number() },
                "weight_decay" => s with { WeightDecay = (float)Number() },
                "nesterov" => s with { Nesterov = Flag() },
                "clip" => s with { Clip = (float)Number() },
                "epochs" => s with { Epochs = Whole() },
                "batch_size" => s with { BatchSize = Whole() },
                "max_steps" => s with { MaxSteps = text == "none" ? null : Whole() },
                "seed" => s with { Seed = Whole() },
                "shuffle" => s with { Shuffle = Flag() },
                "augment" => s with { Augment = text switch { "crop-flip" => true, "none" => false, _ => throw new ArgumentException(Bad("is not crop-flip or none")) } },
                _ => s.Method.Parameters.FirstOrDefault(p => p.Key == key) is { } p
                    ? s.With(p.Option, p.Flag ? (Flag() ? 1 : 0) : Number())
                    : throw new ArgumentException(Bad($"is not a setting of {s.Method.Name}")),
            };
        }
        return s;
    }
}
