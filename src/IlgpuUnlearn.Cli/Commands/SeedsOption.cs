using System.Globalization;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// unlearn --seeds: the seeds a method is repeated with. A list with commas (0,1,2, or 7, for the one seed 7) names them; a
/// single whole number is a count, n meaning seeds 0 .. n-1 (so --seeds 3 is --seeds 0,1,2). Seeds are whole numbers from 0
/// (they name the files: _s&lt;seed&gt;), each at most once.
/// </summary>
internal static class SeedsOption
{
    public const string Help = "Repeat the run with each seed (the data order, augmentation, random labels, initialisations: whatever the method " +
        "draws from --seed): a list with commas (0,1,2; one seed: 7,) or a count n meaning seeds 0..n-1 (3 is 0,1,2). Each seed's outputs are " +
        "named with _s<seed> (cifar10_resnet18_SCRUB_3_s1.pth ...), and <model>.seeds.json merges them: every figure's mean and 95% Student t " +
        "interval over the seeds. Not with --seed; refused for a method that draws nothing from the seed (ssd, lfssd).";

    /// <summary>The seeds of <paramref name="text"/>, in the order given; null when the option was not given.</summary>
    /// <exception cref="UserError">Not a list or a count, a seed below 0 or given twice, a count below 1 (one line naming the value).</exception>
    /// <summary>The most seeds a count may ask for (each seed is a whole unlearning run with its own files).</summary>
    public const int MaxCount = 10_000;

    public static int[]? Parse(string? text)
    {
        if (text is null) return null;
        string value = text.Trim();
        const string Give = "give a list of seeds (0,1,2) or a count (3: seeds 0, 1, 2)";
        if (value.Length == 0) throw new UserError($"--seeds is empty: {Give}");
        if (!value.Contains(','))
        {
            if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int count))
                throw new UserError(TooLarge(value)
                    ? $"--seeds {value}: too large; a count goes up to {int.MaxValue}"
                    : $"--seeds {value}: not a whole number; {Give}");
            if (count < 1) throw new UserError($"--seeds {value}: a count of seeds must be at least 1 (3 runs seeds 0, 1, 2)");
            // Every seed is a whole run with its own outputs: a count this large is a typo, and planning it would allocate
            // the seeds and their output names before any check could answer.
            if (count > MaxCount) throw new UserError(string.Create(CultureInfo.InvariantCulture, $"--seeds {value}: at most {MaxCount:N0} seeds (each is a whole run); give fewer"));
            return Enumerable.Range(0, count).ToArray();
        }
        var parts = value.Split(',', StringSplitOptions.TrimEntries);
        // "7," is the one seed 7: a trailing comma marks a list.
        if (parts[^1].Length == 0) parts = parts[..^1];
        var seeds = new List<int>();
        foreach (string part in parts)
        {
            if (part.Length == 0) throw new UserError($"--seeds {value}: an empty seed between commas; {Give}");
            if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int seed))
                throw new UserError(TooLarge(part)
                    ? $"--seeds {value}: seed {part} is too large; seeds go up to {int.MaxValue}"
                    : $"--seeds {value}: '{part}' is not a whole number; {Give}");
            if (seed < 0) throw new UserError($"--seeds {value}: seed {seed} is negative; seeds are whole numbers from 0");
            if (seeds.Contains(seed)) throw new UserError($"--seeds {value}: seed {seed} is given twice");
            seeds.Add(seed);
        }
        if (seeds.Count == 0) throw new UserError($"--seeds {value}: no seed; {Give}");
        return [.. seeds];
    }

    /// <summary>Whether <paramref name="text"/> is a whole number (digits, optional leading sign) beyond an int's range.</summary>
    static bool TooLarge(string text) =>
        System.Numerics.BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n > int.MaxValue;

    /// <summary>Refuses seeds for a method whose run with these settings draws nothing from the seed (every seed would give the same model).</summary>
    public static void CheckMethodDraws(MethodChoice method)
    {
        if (method.Settings.Method.SeededDraws(method.Settings).Count > 0) return;
        string why = method.Settings.Method.TakesOptimizerStep
            ? "it runs in file order (--no-shuffle) without augmentation and draws nothing else"
            : "it trains nothing and sums its importances over every image in file order";
        throw new UserError($"--seeds: {method.Name} draws nothing from the seed ({why}), so every seed would give the same model; run it once, without --seeds");
    }

    /// <summary>"model.pth" with seed 2 is "model_s2.pth" (any file: the seed before the extension).</summary>
    public static string Named(string path, int seed) => ReportOutputs.WithSuffix(path, string.Create(CultureInfo.InvariantCulture, $"_s{seed}"));
}
