using System.Diagnostics;
using System.Globalization;

namespace IlgpuUnlearn.Download;

/// <summary>
/// Shows a download's progress on stderr: on a terminal, one line redrawn in place (bar, bytes, percent, MB/s)
/// at most ten times a second; otherwise a few plain lines (start, each quarter, done) that read well in a log.
/// </summary>
internal sealed class DownloadProgress
{
    private const double Megabyte = 1_000_000;
    private readonly TextWriter _output;
    private readonly bool _terminal;
    private readonly long? _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawMs = -1000;
    private int _quartersShown;

    public DownloadProgress(TextWriter output, bool terminal, string description, Uri address, long? total)
    {
        _output = output;
        _terminal = terminal;
        _total = total;
        string size = total is { } t ? Inv($" ({t / Megabyte:F1} MB)") : "";
        _output.WriteLine($"downloading {description} from {address}{size}");
    }

    public void Report(long bytes)
    {
        if (_terminal)
        {
            long now = _clock.ElapsedMilliseconds;
            if (now - _lastDrawMs < 100) return;
            _lastDrawMs = now;
            _output.Write("\r" + Line(bytes) + "   ");
            _output.Flush();
        }
        else if (_total is > 0 and { } total)
        {
            int quarters = (int)Math.Min(3, 4 * bytes / total);
            while (_quartersShown < quarters)
            {
                _quartersShown++;
                _output.WriteLine("  " + Line(bytes));
            }
        }
    }

    public void Complete(long bytes)
    {
        if (_terminal) _output.Write("\r" + Line(bytes) + "   \n");
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        _output.WriteLine(Inv($"done: {bytes / Megabyte:F1} MB in {seconds:F1} s ({bytes / Megabyte / seconds:F1} MB/s)"));
        _output.Flush();
    }

    /// <summary>Ends a redrawn line before an error message is printed under it.</summary>
    public void Abandon()
    {
        if (_terminal) _output.WriteLine();
    }

    private string Line(long bytes)
    {
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        string speed = Inv($"{bytes / Megabyte / seconds:F1} MB/s");
        if (_total is > 0 and { } total)
        {
            double fraction = Math.Clamp((double)bytes / total, 0, 1);
            int filled = (int)(fraction * 30);
            string bar = _terminal ? "[" + new string('#', filled) + new string('-', 30 - filled) + "] " : "";
            return bar + Inv($"{fraction * 100,5:F1}% {bytes / Megabyte:F1}/{total / Megabyte:F1} MB {speed}");
        }
        return Inv($"{bytes / Megabyte:F1} MB {speed}");
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
