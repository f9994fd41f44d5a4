using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli;

/// <summary>
/// The progress of a run on stderr: rewritten in place on a terminal, otherwise one line at most every 5 seconds
/// (and for the last step), so logs stay short.
/// </summary>
internal static class ProgressLine
{
    static readonly bool Terminal = !Console.IsErrorRedirected;
    static DateTime lastPrinted = DateTime.MinValue;
    static bool open;

    public static void Show(StepProgress p)
    {
        var r = p.Result;
        string forget = r.ForgetLoss is { } f ? $"forget loss {f,8:F4}  " : "";
        string line = $"epoch {p.Epoch}/{p.Epochs}  step {p.Step}/{p.StepsPerEpoch}  {forget}retain loss {r.RetainLoss,7:F4}  " +
                      $"grad norm {r.GradientNorm,8:F3}  {p.ImagesPerSecond,7:F1} images/s  ETA {Format(p.Remaining)}";
        bool last = p.Step == p.StepsPerEpoch && p.Epoch == p.Epochs;
        if (Terminal)
        {
            Console.Error.Write("\r" + line + "  ");
            open = true;
        }
        else if (last || DateTime.UtcNow - lastPrinted > TimeSpan.FromSeconds(5))
        {
            Console.Error.WriteLine(line);
            lastPrinted = DateTime.UtcNow;
        }
    }

    /// <summary>Ends an in-place line so that what follows starts on a fresh one.</summary>
    public static void Finish()
    {
        if (open) Console.Error.WriteLine();
        open = false;
    }

    static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : $"{t.Minutes}m{t.Seconds:D2}s";
}
