using System.Reflection;
using CommandLine;
using IlgpuUnlearn.Cli;
using IlgpuUnlearn.Cli.Commands;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary><see cref="MethodRegistry"/>: names unique, defaults valid and naming their method, every method's own setting
/// reachable from the command line, and a method's setting refused for another.</summary>
public sealed class MethodRegistryTests
{
    [Fact]
    public void Names_are_unique_and_each_default_is_valid_and_names_its_method()
    {
        Assert.Equal(MethodRegistry.All.Count, MethodRegistry.All.Select(m => m.OptionName).Distinct().Count());
        Assert.Equal(MethodRegistry.All.Count, MethodRegistry.All.Select(m => m.Name).Distinct().Count());
        foreach (var m in MethodRegistry.All)
        {
            var d = m.Defaults;
            Assert.Same(m, d.Method);
            d.Validate();
            Assert.Same(m, MethodRegistry.Find(m.OptionName.ToUpperInvariant()));
            Assert.False(string.IsNullOrWhiteSpace(m.Source));
            foreach (var p in m.Parameters) p.Check(p.Default);
        }
    }

    [Fact]
    public void Every_methods_own_setting_has_a_command_line_option() =>
        Assert.Empty(MethodChoice.OptionsWithoutProperty());

    /// <summary>SSD and LFSSD take no optimiser step: each optimiser option given (as the parser would set it) is refused with
    /// one message naming it; every name in <see cref="UnlearningMethod.StepOptions"/> is a real unlearn option (the list cannot
    /// go stale), and a method that takes steps accepts the same option.</summary>
    [Theory]
    [InlineData("ssd")]
    [InlineData("lfssd")]
    public void A_method_without_an_optimiser_step_refuses_every_step_option(string method)
    {
        var properties = typeof(UnlearnOptions).GetProperties()
            .Where(p => p.GetCustomAttribute<OptionAttribute>() is not null)
            .ToDictionary(p => "--" + p.GetCustomAttribute<OptionAttribute>()!.LongName);
        Assert.Equal(9, UnlearningMethod.StepOptions.Count);
        foreach (string option in UnlearningMethod.StepOptions)
        {
            Assert.True(properties.TryGetValue(option, out var property), $"{option} is not an unlearn option");
            var o = new UnlearnOptions { Method = method };
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            property.SetValue(o, type == typeof(bool) ? true : type == typeof(string) ? "constant" : Convert.ChangeType(1, type));
            var e = Assert.Throws<UserError>(() => MethodChoice.FromOptions(o));
            Assert.Equal($"{option} does not apply to --method {method}: {method} takes no optimiser step", e.Message);
        }
        Assert.Equal(0.5, MethodChoice.FromOptions(new UnlearnOptions { Method = "ft", LearningRate = 0.5f }).Settings.LearningRate);
        // Its own options and the batch size are still taken.
        var ssd = MethodChoice.FromOptions(new UnlearnOptions { Method = method, BatchSize = 8, SsdAlpha = 5 }).Settings;
        Assert.Equal((8, 5.0), (ssd.BatchSize, ssd["--ssd-alpha"]));
    }

    [Fact]
    public void An_unknown_method_names_the_known_ones_and_a_foreign_setting_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodRegistry.Find("banana"));
        Assert.Contains(string.Join(", ", MethodRegistry.All.Select(m => m.OptionName)), e.Message);
        Assert.Throws<ArgumentException>(() => MethodRegistry.Find("ft").Defaults.With("--alpha", 0.3));
        var bad = MethodRegistry.Find("advneggrad").Defaults.With("--alpha", 1.5);
        Assert.Equal("--alpha must be in [0, 1], got 1.5", Assert.Throws<ArgumentException>(bad.Validate).Message);
    }
}

/// <summary><see cref="Recipe"/>: a published recipe's values over the method's defaults, a file and a manifest read back, and
/// a wrong value named with its recipe and key.</summary>
public sealed class RecipeTests
{
    [Fact]
    public void The_salun_card_sets_its_published_values_over_salun_defaults()
    {
        var recipe = Recipe.Load("salun-card");
        var s = recipe.Apply(MethodRegistry.Find(recipe.Method!).Defaults);
        Assert.Equal((0.01, 0.9f, 5e-4f, true, 8, 512, 0.1), (s.LearningRate, s.Momentum, s.WeightDecay, s.Nesterov, s.Epochs, s.BatchSize, s["--saliency-threshold"]));
        Assert.Equal(100f, s.Clip);   // not stated by the card: salun's
        Assert.Equal("salun-card", s.Recipe);
        s.Validate();
    }

    [Fact]
    public void A_manifests_method_settings_replay_and_a_bad_value_is_named()
    {
        var original = MethodRegistry.Find("scrub").Defaults.With("--kd-temperature", 3) with { Epochs = 2, LearningRate = 0.002, Seed = 7 };
        string folder = Directory.CreateTempSubdirectory().FullName;
        try
        {
            string path = Path.Combine(folder, "run.manifest.json");
            var manifest = new IlgpuUnlearn.Manifest.RunManifest();
            foreach (var (k, v) in original.ManifestEntries()) manifest.Settings[k] = v;
            manifest.Settings["forget_class"] = "3";
            IlgpuUnlearn.Manifest.RunManifestJson.Write(path, manifest);
            var recipe = Recipe.Load(path);
            Assert.Equal("scrub", recipe.Method);
            var replayed = recipe.Apply(MethodRegistry.Find("scrub").Defaults);
            Assert.Equal(original.ManifestEntries().Where(e => e.Key != "recipe"), replayed.ManifestEntries().Where(e => e.Key != "recipe"));

            string bad = Path.Combine(folder, "bad.json");
            File.WriteAllText(bad, """{"method": "ft", "lr": "fast"}""");
            var e = Assert.Throws<ArgumentException>(() => Recipe.Load(bad).Apply(MethodRegistry.Find("ft").Defaults));
            Assert.Equal($"recipe {bad}: lr \"fast\" is not a number", e.Message);
            File.WriteAllText(bad, """{"lr": 0.1}""");
            Assert.Contains("names no \"method\"", Assert.Throws<ArgumentException>(() => Recipe.Load(bad)).Message);
            Assert.Contains("neither a recipe", Assert.Throws<ArgumentException>(() => Recipe.Load(Path.Combine(folder, "missing"))).Message);
        }
        finally { Directory.Delete(folder, true); }
    }
}
