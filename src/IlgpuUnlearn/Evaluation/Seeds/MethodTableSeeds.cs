namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary>
/// The method x metric table with the 95% t interval over seeds (<see cref="SeedsReport"/>) beside each mean, where a
/// method's row is exactly one set of seeds: the method's runs are the runs of one <see cref="SeedsReport"/> (one forget
/// class, one setting, n seeds), so the row's mean is the seeds' mean and their interval is the row's. A row that averages
/// several classes or settings keeps its mean alone (an interval over seeds of a mean over classes is not what the seeds'
/// reports hold). Every renderer (markdown, LaTeX, HTML) shows an interval where a figure has one.
/// </summary>
public static class MethodTableSeeds
{
    public const string IntervalName = "95% t interval over seeds";

    /// <summary><paramref name="table"/> with the intervals of <paramref name="overSeeds"/> attached to the rows they match.</summary>
    public static MethodTable With(MethodTable table, IReadOnlyList<SeedsReport> overSeeds)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(overSeeds);
        bool any = false;
        var rows = table.Rows.Select(row =>
        {
            var reports = overSeeds.Where(s => s.Method == row.Method).ToList();
            if (row.Method is "base" or "retrained" || reports.Count != 1 || reports[0].Seeds.Length != row.Runs) return row;
            var seeds = reports[0];
            var figures = row.Figures.ToDictionary(f => f.Key, f =>
            {
                var interval = f.Value.AtLeast ? null : SeedFigureOf(seeds, f.Key)?.Seeds;
                if (interval is not { HasInterval: true }) return f.Value;
                any = true;
                return f.Value with { Low = interval.Low, High = interval.High };
            });
            return new MethodRow(row.Method, row.Runs, figures);
        }).ToList();
        return any ? new MethodTable(rows, IntervalName) : table;
    }

    /// <summary>The seeds' figure that a table figure is (the names differ for the figures below the logits).</summary>
    static SeedFigure? SeedFigureOf(SeedsReport seeds, string figure) => figure switch
    {
        MethodTable.ProbeForget => seeds.Figure("probe forget"),
        MethodTable.ProbeRetain => seeds.Figure("probe retain"),
        MethodTable.RelearnSteps => seeds.Figure("relearn steps"),
        MethodTable.CkaBase => Cka(seeds, "base"),
        MethodTable.CkaRetrained => Cka(seeds, "retrained"),
        _ => seeds.Figure(figure),
    };

    /// <summary>The unlearned model's CKA to <paramref name="reference"/> at the table's stage and split, under either order of the pair.</summary>
    static SeedFigure? Cka(SeedsReport seeds, string reference) =>
        seeds.Figures.FirstOrDefault(f => f.Name == SeedsReport.CkaName("unlearned", reference, MethodTable.CkaSplit, MethodTable.CkaStage)
                                       || f.Name == SeedsReport.CkaName(reference, "unlearned", MethodTable.CkaSplit, MethodTable.CkaStage));
}
