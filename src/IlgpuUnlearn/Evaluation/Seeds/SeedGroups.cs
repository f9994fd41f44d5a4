using System.Globalization;

namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary>
/// Finds, among many run reports, the sets that differ only in their seed: the same method and forget class, the same image
/// counts and SVC split (what <see cref="RunComparison.MixedGroups"/> warns about), the same bootstrap, and the same recorded
/// settings (<see cref="RunReport.Settings"/>, the seed left out). Runs of one method and class that differ in anything else
/// are kept apart, each set merged on its own, and a warning names what differs.
/// </summary>
public static class SeedGroups
{
    /// <summary>What runs merged over seeds must share, as one string (the seed left out).</summary>
    public static string KeyOf(RunReport run)
    {
        ArgumentNullException.ThrowIfNull(run);
        return string.Join("\n", Describe(run).Select(p => $"{p.Key}={p.Value}"));
    }

    /// <summary>Each part of <see cref="KeyOf"/> with its name, for saying what differs.</summary>
    static List<(string Key, string Value)> Describe(RunReport run)
    {
        static string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        var parts = new List<(string Key, string Value)>
        {
            ("method", run.Method),
            ("forget class", Inv($"{run.ForgetClass}")),
            ("images", Inv($"{run.Evaluation.Train.Images} training + {run.Evaluation.Test.Images} test")),
            ("mia split", run.MiaSplit),
            ("bootstrap", Inv($"{run.BootstrapReplicates}")),
            ("base model", run.Base is { } b ? Inv($"{b.Model} ({b.Train.Images} training + {b.Test.Images} test images)") : "none"),
            ("retrained model", run.Retrained?.Model ?? "none"),
        };
        // Then the recorded settings, but for those named above (method, bootstrap).
        foreach (var (key, value) in SharedSettings(run))
            if (!parts.Any(p => p.Key == key)) parts.Add((key, value));
        return parts;
    }

    /// <summary>The run's recorded settings without the seed.</summary>
    public static SortedDictionary<string, string> SharedSettings(RunReport run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var shared = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in run.Settings)
            if (key != "seed") shared[key] = value;
        return shared;
    }

    /// <summary>"lr 0.1 / 0.01; images ...": what differs between two runs besides the seed (empty when nothing does).</summary>
    public static string Difference(RunReport a, RunReport b)
    {
        var x = Describe(a).ToDictionary(p => p.Key, p => p.Value);
        var y = Describe(b).ToDictionary(p => p.Key, p => p.Value);
        return string.Join("; ", x.Keys.Union(y.Keys).Where(key => x.GetValueOrDefault(key) != y.GetValueOrDefault(key))
            .Select(key => $"{key} {x.GetValueOrDefault(key) ?? "(not recorded)"} / {y.GetValueOrDefault(key) ?? "(not recorded)"}"));
    }

    /// <summary>
    /// The sets of runs (with a forget class) that differ only in their seed and hold at least two seeds, in method and class
    /// order, each merged (<see cref="SeedsReport.Merge"/>); and, for a method and class that has such a set, one warning when
    /// its runs differ in more than the seed (naming what differs; each variant is merged on its own) and one per seed given
    /// twice (the first counted). Runs of a method and class that all share one seed are no seeds to merge: no warning.
    /// </summary>
    public static (IReadOnlyList<SeedsReport> Merged, IReadOnlyList<string> Warnings) Find(IEnumerable<(RunReport Run, string Source)> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var merged = new List<SeedsReport>();
        var warnings = new List<string>();
        var withClass = runs.Where(r => r.Run.ForgetClass is not null).ToList();
        foreach (var methodClass in withClass.GroupBy(r => (r.Run.Method, r.Run.ForgetClass!.Value)).OrderBy(g => g.Key.Method, StringComparer.Ordinal).ThenBy(g => g.Key.Value))
        {
            var variants = methodClass.GroupBy(r => KeyOf(r.Run)).ToList();
            if (!variants.Any(v => v.Select(r => r.Run.Seed).Distinct().Count() > 1)) continue;
            string what = $"{methodClass.Key.Method} on class {methodClass.Key.Value}";
            if (variants.Count > 1)
                warnings.Add($"seeds: the {what} runs differ in more than their seed ({Difference(variants[0].First().Run, variants[1].First().Run)}); " +
                             $"each of the {variants.Count} settings is merged over its seeds on its own");
            foreach (var variant in variants)
            {
                var bySeed = variant.GroupBy(r => r.Run.Seed).ToList();
                foreach (var twice in bySeed.Where(g => g.Count() > 1))
                    warnings.Add($"seeds: the {what} runs give seed {twice.Key} {twice.Count()} times ({string.Join(", ", twice.Select(r => r.Source).Distinct())}); the first is counted");
                if (bySeed.Count < 2) continue;
                merged.Add(SeedsReport.Merge(bySeed.Select(g => g.First().Run).ToList()));
            }
        }
        return (merged, warnings);
    }
}
