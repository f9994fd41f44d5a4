using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli;

/// <summary>
/// The progress of a run on stderr: rewritten in place on a terminal, otherwise one line at most every 5 seconds
/// (and for the last step), so logs stay short. When several runs share the console (classes in parallel, one per
/// device), each line stands alone and starts with its run's label.
/// </summary>
internal static class ProgressLine
{
    static readonly bool Terminal = !Console.IsErrorRedirected;
    static readonly object Gate = new();
    static readonly Dictionary<string, DateTime> LastPrinted = [];
    static bool open;

    /// <summary>Several runs print at once: no in-place rewriting.</summary>
    public static bool Shared { get; set; }

    public static void Show(StepProgress p, string? label = null)
    {
        var r = p.Result;
        string forget = r.ForgetLoss is { } f ? $"forget loss {f,8:F4}  " : "";
        string losses = p.Pass is { } pass
            ? $"{pass} batch loss {r.RetainLoss,7:F4}  " + (r.Distillation is { } d ? $"distillation {d,8:F4}  " : "")
            : $"{forget}retain loss {r.RetainLoss,7:F4}  ";
        string line = $"epoch {p.Epoch}/{p.Epochs}  step {p.Step}/{p.StepsPerEpoch}  {losses}" +
                      $"grad norm {r.GradientNorm,8:F3}  {p.ImagesPerSecond,7:F1} images/s  ETA {Format(p.Remaining)}";
        Write(line, last: p.Step == p.StepsPerEpoch && p.Epoch == p.Epochs, label);
    }

    /// <summary>"evaluating 5000/10000 images  812.3 images/s  ETA 0m06s" after each evaluation batch.</summary>
    public static void ShowEvaluation(int done, int total, TimeSpan elapsed, string? label = null)
    {
        double rate = done / Math.Max(elapsed.TotalSeconds, 1e-9);
        var remaining = TimeSpan.FromSeconds((total - done) / Math.Max(rate, 1e-9));
        Write($"evaluating {done}/{total} images  {rate,7:F1} images/s  ETA {Format(remaining)}", last: done == total, label);
    }

    /// <summary>
    /// A listener for one model's metrics: "metrics of the base model: bootstrap 300/1000  ETA 0m05s", or for a part of
    /// unknown length (the SVC attack) "metrics of the base model: SVC attack, 12,288 SMO iterations  0m04s".
    /// </summary>
    public static Action<IlgpuUnlearn.Evaluation.MetricsProgress> Metrics(string what, string? label = null)
    {
        string part = "";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var gate = new object();
        return p =>
        {
            lock (gate)
            {
                if (p.Part != part) { part = p.Part; clock.Restart(); }
                var elapsed = clock.Elapsed;
                if (p.Total <= 0)
                {
                    // Off a terminal the lines are thinned out, so the part's end is always shown: where it stopped, and when.
                    Write($"metrics of the {what}: {p.Part}, {p.Done:N0} SMO iterations  {Format(elapsed)}{(p.Finished ? ", done" : "")}",
                        last: p.Finished, label);
                    return;
                }
                // ETA from the rate so far; none before the first unit is done (and at most 100 days, to stay a TimeSpan).
                string eta = p.Done == 0 ? "-"
                    : Format(TimeSpan.FromSeconds(Math.Min(8.64e6, (p.Total - p.Done) * elapsed.TotalSeconds / p.Done)));
                Write($"metrics of the {what}: {p.Part} {p.Done}/{p.Total}  ETA {eta}", last: p.Done == p.Total, label);
            }
        };
    }

    /// <summary>
    /// Ends an in-place line so that what follows starts on a fresh one; the next sequence of lines (the steps after an
    /// evaluation, say) starts with its first line shown.
    /// </summary>
    public static void Finish()
    {
        lock (Gate)
        {
            if (open) Console.Error.WriteLine();
            open = false;
            LastPrinted.Clear();
        }
    }

    static void Write(string line, bool last, string? label)
    {
        lock (Gate)
        {
            if (label is not null) line = $"[{label}] {line}";
            if (Terminal && !Shared)
            {
                Console.Error.Write("\r" + line + "  ");
                open = true;
                return;
            }
            string key = label ?? "";
            if (last || !LastPrinted.TryGetValue(key, out var then) || DateTime.UtcNow - then > TimeSpan.FromSeconds(5))
            {
                Console.Error.WriteLine(line);
                LastPrinted[key] = DateTime.UtcNow;
            }
        }
    }

    static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
