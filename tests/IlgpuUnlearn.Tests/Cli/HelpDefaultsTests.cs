using System.Globalization;
using System.Reflection;
using CommandLine;
using IlgpuUnlearn.Cli;
using IlgpuUnlearn.Cli.Commands;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// unlearn's --help and README say the defaults the code uses: a method's own option states each owning method's default
/// from the registry; a shared option (--momentum, --augment ...) states no value by hand, the list after the options
/// (<see cref="MethodChoice.SharedDefaultLines"/>, made from each method's Defaults) gives them, and README prints the
/// same lines. Also the did-you-mean of a typo: only a name close to what was typed.
/// </summary>
public sealed class HelpDefaultsTests
{
    /// <summary>The options every method shares: their defaults follow the method, so their help must not state one.</summary>
    static readonly string[] SharedOptions =
        ["epochs", "batch-size", "lr", "lr-schedule", "momentum", "weight-decay", "nesterov", "clip", "augment", "seed"];

    static Dictionary<string, string> HelpByOption() =>
        typeof(UnlearnOptions).GetProperties().Select(p => p.GetCustomAttribute<OptionAttribute>()).Where(a => a is not null)
            .ToDictionary(a => a!.LongName, a => a!.HelpText);

    [Fact]
    public void AMethodsOwnOptionStatesEachOwningMethodsDefault()
    {
        var help = HelpByOption();
        int checkedOptions = 0;
        foreach (var option in MethodRegistry.All.SelectMany(m => m.Parameters).Select(p => p.Option).Distinct())
        {
            var owners = MethodRegistry.All.Where(m => m.Parameters.Any(p => p.Option == option)).ToList();
            var parameter = owners[0].Parameter(option);
            string text = help[option.TrimStart('-')];
            if (parameter.Flag)
            {
                // A switch: off unless the help says otherwise; --card-update states no default at all.
                Assert.All(owners, m => Assert.Equal(0, m.Parameter(option).Default));
                Assert.DoesNotContain("Default: on", text, StringComparison.Ordinal);
                continue;
            }
            // "Default: 10." where every owner takes 10; "Default: 0.15 (advneggrad), 0.0001 (neggrad+)." where they differ.
            string expected = owners.Select(m => m.Parameter(option).Default).Distinct().Count() == 1
                ? $"Default: {parameter.Format(parameter.Default)}."
                : "Default: " + string.Join(", ", owners.Select(m => $"{m.Parameter(option).Format(m.Parameter(option).Default)} ({m.OptionName})")) + ".";
            Assert.True(text.EndsWith(expected, StringComparison.Ordinal), $"--help of {option}: \"{text}\" does not end with \"{expected}\"");
            checkedOptions++;
        }
        Assert.True(checkedOptions >= 12, $"only {checkedOptions} method options with a default checked");
    }

    [Fact]
    public void ASharedOptionsHelpStatesNoValueByHand()
    {
        var help = HelpByOption();
        foreach (string option in SharedOptions)
        {
            string text = help[option];
            int at = text.IndexOf("Default:", StringComparison.Ordinal);
            Assert.True(at >= 0, $"--{option}'s help names no default");
            string stated = text[at..];
            Assert.StartsWith("Default: the method's (by method after the options", stated, StringComparison.Ordinal);
            // A number, a schedule or an augmentation written by hand would drift from the registry; the Comparator's 2048 is
            // named as the source of the seed, checked against the registry below.
            string checkedText = stated.Replace("2048", "", StringComparison.Ordinal);
            Assert.False(checkedText.Any(char.IsDigit), $"--{option}'s help states a value: {stated}");
            foreach (string word in (string[])["cosine", "multistep", "constant", "crop-flip", "none", "every method"])
                Assert.DoesNotContain(word, checkedText, StringComparison.Ordinal);
        }
        Assert.All(Comparator.Methods, m => Assert.Equal(2048, MethodRegistry.Find(m).Defaults.Seed));
        Assert.Contains("the Comparator's methods 2048", help["seed"], StringComparison.Ordinal);
    }

    [Fact]
    public void TheSharedDefaultsListGivesEachMethodsValueOnce()
    {
        var lines = MethodChoice.SharedDefaultLines().ToList();
        Assert.Equal(SharedOptions.Length, lines.Count);
        var c = CultureInfo.InvariantCulture;
        foreach (var method in MethodRegistry.All)
        {
            var d = method.Defaults;
            // Each method's value as the list writes it, found in the group that names the method.
            var expected = new Dictionary<string, string>
            {
                ["--epochs"] = d.Epochs.ToString(c), ["--batch-size"] = d.BatchSize.ToString(c), ["--lr"] = d.LearningRate.ToString("R", c),
                ["--lr-schedule"] = d.EffectiveSchedule.ToString(), ["--momentum"] = d.Momentum.ToString("R", c),
                ["--weight-decay"] = d.WeightDecay.ToString("R", c), ["--nesterov"] = d.Nesterov ? "on" : "off",
                ["--clip"] = d.Clip.ToString("R", c), ["--augment"] = d.Augment ? "crop-flip" : "none",
                ["--seed"] = d.Seed.ToString(c),
            };
            foreach (var (option, value) in expected)
            {
                string line = Assert.Single(lines, l => l.StartsWith(option + ": ", StringComparison.Ordinal));
                var groups = System.Text.RegularExpressions.Regex.Matches(line[(option.Length + 2)..], @"(?<value>[^()]+?) \((?<methods>[^()]+)\)(?:, |$)");
                Assert.Equal(line.Length - option.Length - 2, groups.Sum(g => g.Length)); // the groups are the whole line
                var holding = groups.Where(g => g.Groups["methods"].Value.Split(", ").Contains(method.OptionName)).ToList();
                if (!method.TakesOptimizerStep && UnlearningMethod.StepOptions.Contains(option))
                {
                    Assert.Empty(holding);
                    continue;
                }
                // Named in one group, or else in "the others" (written last).
                var group = holding.Count > 0 ? Assert.Single(holding) : groups.Single(g => g.Groups["methods"].Value == "the others");
                Assert.Equal(value, group.Groups["value"].Value);
            }
        }
        // The cases a reader was misled by: neggrad+ takes no momentum, delete no weight decay, l1sparse seed 2.
        Assert.Contains("--momentum: 0 (neggrad+), 0.9 (the others)", lines);
        Assert.Contains("--weight-decay: 0 (delete, badteacher, neggrad+), 0.0005 (the others)", lines);
        Assert.Contains(lines, l => l.StartsWith("--seed: ", StringComparison.Ordinal) && l.Contains("2 (l1sparse)", StringComparison.Ordinal));
    }

    [Fact]
    public void ReadmePrintsTheSharedDefaultsAsHelpDoes()
    {
        string readme = File.ReadAllText(Support.Repository.File("README.md"));
        foreach (string line in MethodChoice.SharedDefaultLines())
            Assert.True(readme.Contains(line + "\n", StringComparison.Ordinal), $"README lacks the line \"{line}\"");
        Assert.DoesNotContain("(every method)", readme, StringComparison.Ordinal);
        Assert.DoesNotContain("momentum 0.9 and weight decay 5e-4 without Nesterov", readme, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("foo", null)]       // three letters, two edits from ft: noise, not a typo
    [InlineData("sd", "ssd")]       // one edit of a short name is still a likely typo
    [InlineData("scrb", "scrub")]
    [InlineData("sallun", "salun")]
    [InlineData("advnegrad", "advneggrad")]
    [InlineData("l1sparce", "l1sparse")]
    [InlineData("neggrad", "neggrad+")]
    public void AMisspeltMethodSuggestsOnlyANearName(string typed, string? expected)
        => Assert.Equal(expected, ParserErrors.Nearest(typed, MethodRegistry.All.Select(m => m.OptionName)));

    [Theory]
    [InlineData("foget-class", "forget-class")]
    [InlineData("bootstap", "bootstrap")]
    [InlineData("sed", "seed")]
    [InlineData("xyz", null)]
    [InlineData("lrr", "lr")]
    [InlineData("moo", null)]
    public void AMisspeltOptionSuggestsOnlyANearName(string typed, string? expected) =>
        Assert.Equal(expected, ParserErrors.Nearest(typed, HelpByOption().Keys));
}
