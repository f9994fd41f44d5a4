using CommandLine;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Seeds;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("report", HelpText = "Merge run reports (the .report.json files of unlearn, eval --report-json; from any machines) into the card's table and a method x metric table (markdown on stdout; --markdown, --csv, --latex), one picture (--svg) and a self-contained HTML page of every figure (--html).")]
public sealed class ReportOptions
{
    [Value(0, MetaName = "RUN.json", Min = 1, Required = true, HelpText = "Run reports (each one report or an array of them); training logs (.log.jsonl, written by train) among them are drawn as training curves in --html.")]
    public IEnumerable<string> Runs { get; set; } = [];

    [Option("markdown", HelpText = "Also write the markdown tables here.")]
    public string? Markdown { get; set; }

    [Option("csv", HelpText = "Write one row per run and one mean row per method here (CSV).")]
    public string? Csv { get; set; }

    [Option("svg", HelpText = "Draw the methods' mean metrics as a grouped bar chart here (SVG).")]
    public string? Svg { get; set; }

    [Option("html", HelpText = "Write one self-contained HTML page here (inline CSS and SVG, no script, loads nothing): the method table with distances to the retrained model, verdicts, per-class accuracy, confusion matrices, attack score distributions, probe and relearn, CKA per stage, training curves.")]
    public string? Html { get; set; }

    [Option("latex", HelpText = "Write the method x metric table as a LaTeX table here (booktabs; needs \\usepackage{booktabs}).")]
    public string? Latex { get; set; }

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
        // A file named twice (or by two paths) is one set of runs; training logs (.jsonl) are drawn, not merged.
        var given = o.Runs.DistinctBy(Path.GetFullPath).ToList();
        foreach (var twice in o.Runs.GroupBy(Path.GetFullPath).Where(g => g.Count() > 1))
            Console.Error.WriteLine($"{twice.First()}: given {twice.Count()} times, counted once");
        foreach (var f in given) if (!File.Exists(f)) throw new UserError($"{f}: no such {(IsLog(f) ? "training log" : "run report")}");
        var logs = given.Where(IsLog).ToList();
        var files = given.Where(f => !IsLog(f)).ToList();
        if (files.Count == 0) throw new UserError("no run report given (only training logs): nothing to compare");
        if (logs.Count > 0 && o.Html is null) Console.Error.WriteLine($"{logs[0]}: training logs are drawn only in --html; ignored");
        if (o.Svg is not null && !o.Svg.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
            throw new UserError($"--svg {o.Svg}: the chart is an SVG picture; give a name ending in .svg");
        foreach (var (option, file, extensions) in new[] { ("--markdown", o.Markdown, Array.Empty<string>()), ("--csv", o.Csv, []), ("--svg", o.Svg, []),
                     ("--html", o.Html, [".html", ".htm"]), ("--latex", o.Latex, [".tex"]), ("--seeds-csv", o.SeedsCsv, []), ("--seeds-json", o.SeedsJson, []) })
        {
            if (file is null) continue;
            PlanChecks.OutputFile(file, option, extensions);
            PlanChecks.NotReplacing(file, option, o.Force);
        }
        var outputs = new[] { o.Markdown, o.Csv, o.Svg, o.Html, o.Latex, o.SeedsCsv, o.SeedsJson }.Where(f => f is not null).Select(f => Path.GetFullPath(f!)).ToList();
        foreach (var clash in outputs.GroupBy(f => f).Where(g => g.Count() > 1)) throw new UserError($"{clash.Key}: named as two outputs");
        foreach (var f in given) if (outputs.Contains(Path.GetFullPath(f))) throw new UserError($"{f}: is an input and an output");
        var runs = files.SelectMany(f => RunReportJson.ReadAll(f).Select(r => (Run: r, Source: f))).ToList();
        if (!runs.Any(r => r.Run.ForgetClass is not null)) throw new UserError("none of the reports has a forget class: nothing to compare");
        var curves = logs.Select(ReadLog).ToList();
        PlanChecks.CreateFolders();
        var comparison = new RunComparison(runs);
        // Runs of one method and class that differ only in their seed, merged (mean and 95% t interval over seeds).
        var (overSeeds, seedWarnings) = SeedGroups.Find(runs);
        var mixed = comparison.MixedGroups().Concat(seedWarnings).Concat(overSeeds.Where(r => r.SeedsIdentical).Select(r => r.IdenticalWarning)).ToList();
        foreach (var line in mixed) Console.Error.WriteLine("WARNING: " + line);
        // The method table every output shows, with the interval over seeds where a method's runs are one set of seeds.
        var table = MethodTableSeeds.With(comparison.Table(), overSeeds);
        string markdown = "## The model card's table\n\n" + comparison.CardTable() + "\n## Methods x metrics (mean over runs)\n\n" + comparison.MethodTableMarkdown(table) +
            string.Concat(overSeeds.Select(r => "\n## Over seeds: " + r + "\n\n" + SeedsReportText.Format(r))) +
            string.Concat(mixed.Select(line => "\nWARNING: " + line + "\n"));
        Console.WriteLine(markdown);
        Console.Error.WriteLine($"{runs.Count} run{(runs.Count == 1 ? "" : "s")} from {files.Count} file{(files.Count == 1 ? "" : "s")}");
        foreach (var (what, file, text) in new[]
                 {
                     ("markdown", o.Markdown, (Func<string>)(() => markdown)), ("csv", o.Csv, comparison.Csv), ("svg", o.Svg, comparison.Svg),
                     ("latex", o.Latex, () => MethodTableLatex.Render(table, comparison.Title() + ": mean over runs per method.")),
                     ("html", o.Html, () => ReportHtml.Render(comparison, table, curves, mixed)),
                     ("seeds-csv", o.SeedsCsv, () => SeedsReportText.Csv(overSeeds)), ("seeds-json", o.SeedsJson, () => SeedsReportJson.Serialize(overSeeds) + "\n"),
                 })
        {
            if (file is null) continue;
            AtomicFile.WriteAllText(file, text());
            Console.Error.WriteLine($"{what,-9}{(what.Length >= 9 ? " " : "")}{Path.GetFullPath(file)}");
        }
        return 0;
    }

    static bool IsLog(string path) => path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    /// <summary>A training log's curves as the HTML report draws them, captioned with its file name; one line naming the file and line when it is not a log.</summary>
    static (string Caption, string Svg) ReadLog(string path)
    {
        var history = new List<EpochRecord>();
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length == 0) continue;
            try
            {
                history.Add(EpochRecord.FromJsonLine(line));
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or NotSupportedException)
            {
                throw new UserError($"{path}: line {number} is not a training log record (one JSON object per epoch, as train writes it)");
            }
        }
        if (history.Count == 0) throw new UserError($"{path}: the training log is empty");
        return (Path.GetFileName(path), TrainingCurveSvg.Render(history, Path.GetFileName(path)));
    }
}
