namespace IlgpuUnlearn.Manifest;

/// <summary>
/// The phases of a run as consecutive intervals from the process start: each <see cref="Close"/> names the time since the
/// previous one, so the phases add up to the wall time by construction (nothing falls outside a phase; what a phase holds
/// is said by its name). A class of a multi-class run continues a <see cref="Fork"/> of the shared start (start-up, loading).
/// </summary>
public sealed class PhaseTimeline
{
    private readonly DateTime _start;
    private DateTime _last;
    private readonly List<PhaseRecord> _phases;

    /// <param name="start">When the run began (UTC): the process start, so that start-up is counted too.</param>
    public PhaseTimeline(DateTime start) : this(start, start, []) { }

    private PhaseTimeline(DateTime start, DateTime last, List<PhaseRecord> phases) => (_start, _last, _phases) = (start, last, phases);

    /// <summary>The timeline of this process: from its start (runtime start-up included).</summary>
    public static PhaseTimeline FromProcessStart() =>
        new(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime());

    public IReadOnlyList<PhaseRecord> Phases => _phases;

    /// <summary>Seconds from the start to the last close: the sum of the phases.</summary>
    public double WallSeconds => (_last - _start).TotalSeconds;

    /// <summary>A copy that goes on from here on its own (one per class).</summary>
    public PhaseTimeline Fork()
    {
        lock (_phases) return new PhaseTimeline(_start, _last, [.. _phases]);
    }

    /// <summary>Ends the current phase now and names it; <paramref name="images"/> gives its images per second.</summary>
    public void Close(string name, long? images = null)
    {
        var now = DateTime.UtcNow;
        double seconds = Math.Max(0, (now - _last).TotalSeconds);
        _phases.Add(new PhaseRecord(name, seconds, images, images is long n ? n / Math.Max(seconds, 1e-9) : null));
        _last = now;
    }

    /// <summary>
    /// Ends the current phase now as named parts measured inside it (the metrics' SVC attack, bootstrap, ...) and
    /// <paramref name="rest"/> for the remainder, so the parts still add up.
    /// </summary>
    public void CloseAsParts(IEnumerable<(string Name, double Seconds)> parts, string rest)
    {
        var now = DateTime.UtcNow;
        double total = Math.Max(0, (now - _last).TotalSeconds), used = 0;
        foreach (var (name, seconds) in parts)
        {
            double s = Math.Min(seconds, total - used);
            _phases.Add(new PhaseRecord(name, s));
            used += s;
        }
        _phases.Add(new PhaseRecord(rest, total - used));
        _last = now;
    }
}
