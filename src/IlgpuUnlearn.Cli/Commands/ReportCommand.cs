using CommandLine;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Seeds;
using IlgpuUnlearn.IO;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("report", HelpText = "Merge run reports (the .report.json files of unlearn, eval --report-json; from any machines) into the card's table and a method x metric table (markdown on stdout; --markdown, --csv) and one picture (--svg).")]
public sealed class ReportOptions
{
    [Value(0, MetaName = "RUN.json", Min = 1, Required = true, HelpText = "Run reports (each one report or an array of them).")]
    public IEnumerable<string> Runs { get; set; } = [];

    [Option("markdown", HelpText = "Also write the markdown tables here.")]
    public string? Markdown { get; set; }

    [Option("csv", HelpText = "Write one row per run and one mean row per method here (CSV).")]
    public string? Csv { get; set; }

    [Option("svg", HelpText = "Draw the methods' mean metrics as a grouped bar chart here (SVG).")]
    public string? Svg { get; set; }

    [Option("seeds-csv", HelpText = "Write the runs merged over seeds here (CSV): one row per figure, model, method and class, with the mean, the 95% Student t interval over seeds and the mean bootstrap interval.")]
    public string? SeedsCsv { get; set; }

    [Option("seeds-json", HelpText = "Write the runs merged over seeds here (JSON, as unlearn --seeds writes <model>.seeds.json).")]
    public string? SeedsJson { get; set; }

    [Option("force", HelpText = PlanChecks.ForceHelp)]
    public bool Force { get; set; }
}

internal static class ReportCommand
{
    public static int Run(ReportOptions o)
    {
        // A file named twice (or by two paths) is one set of runs.
        var files = o.Runs.DistinctBy(Path.GetFullPath).ToList();
        foreach (var twice in o.Runs.GroupBy(Path.GetFullPath).Where(g => g.Count() > 1))
            Console.Error.WriteLine($"{twice.First()}: given {twice.Count()} times, counted once");
        foreach (var f in files) if (!File.Exists(f)) throw new UserError($"{f}: no such run report");
        if (o.Svg is not null && !o.Svg.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
            throw new UserError($"--svg {o.Svg}: the chart is an SVG picture; give a name ending in .svg");
        foreach (var (option, file) in new[] { ("--markdown", o.Markdown), ("--csv", o.Csv), ("--svg", o.Svg), ("--seeds-csv", o.SeedsCsv), ("--seeds-json", o.SeedsJson) })
        {
            if (file is null) continue;
            PlanChecks.OutputFile(file, option);
            PlanChecks.NotReplacing(file, option, o.Force);
        }
        var runs = files.SelectMany(f => RunReportJson.ReadAll(f).Select(r => (Run: r, Source: f))).ToList();
        if (!runs.Any(r => r.Run.ForgetClass is not null)) throw new UserError("none of the reports has a forget class: nothing to compare");
        var comparison = new RunComparison(runs);
        // Runs of one method and class that differ only in their seed, merged (mean and 95% t interval over seeds).
        var (overSeeds, seedWarnings) = SeedGroups.Find(runs);
        var mixed = comparison.MixedGroups().Concat(seedWarnings).ToList();
        foreach (var line in mixed) Console.Error.WriteLine("WARNING: " + line);
        string markdown = "## The model card's table\n\n" + comparison.CardTable() + "\n## Methods x metrics (mean over runs)\n\n" + comparison.MethodTableMarkdown() +
            string.Concat(overSeeds.Select(r => "\n## Over seeds: " + r + "\n\n" + SeedsReportText.Format(r))) +
            string.Concat(mixed.Select(line => "\nWARNING: " + line + "\n"));
        Console.WriteLine(markdown);
        Console.Error.WriteLine($"{runs.Count} run{(runs.Count == 1 ? "" : "s")} from {files.Count} file{(files.Count == 1 ? "" : "s")}");
        foreach (var (what, file, text) in new[] { ("markdown", o.Markdown, (Func<string>)(() => markdown)), ("csv", o.Csv, comparison.Csv), ("svg", o.Svg, comparison.Svg),
                     ("seeds-csv", o.SeedsCsv, () => SeedsReportText.Csv(overSeeds)), ("seeds-json", o.SeedsJson, () => SeedsReportJson.Serialize(overSeeds) + "\n") })
        {
            if (file is null) continue;
            AtomicFile.WriteAllText(file, text());
            Console.Error.WriteLine($"{what,-9}{(what.Length >= 9 ? " " : "")}{Path.GetFullPath(file)}");
        }
        return 0;
    }
}
