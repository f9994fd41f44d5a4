namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// The files a run has finished writing, in order, so that an interrupted or failed run can say exactly what is on disk.
/// Safe to add to from several device threads.
/// </summary>
internal sealed class WrittenFiles
{
    readonly List<string> paths = [];

    public int Count { get { lock (paths) return paths.Count; } }

    public void Add(string path)
    {
        lock (paths) paths.Add(Path.GetFullPath(path));
    }

    /// <summary>"a.pth, a.json" (full paths), or "nothing".</summary>
    public override string ToString()
    {
        lock (paths) return paths.Count == 0 ? "nothing" : string.Join(", ", paths);
    }

    /// <summary>What to throw when the run was stopped by Ctrl-C: what was written, and how to go on.</summary>
    /// <param name="resumeHint">How to continue (e.g. "rerun with --resume"), said only when something was written.</param>
    public RunInterruptedException Interrupted(string? resumeHint) =>
        new(Count == 0 ? "interrupted; nothing was written"
            : $"interrupted; written before stopping: {this}{(resumeHint is null ? "" : "; " + resumeHint)}");
}

/// <summary>A run stopped by Ctrl-C; the message says what was written.</summary>
public sealed class RunInterruptedException(string message) : OperationCanceledException(message);
