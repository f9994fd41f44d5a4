namespace IlgpuUnlearn.Cli.Commands;

/// <summary>Ctrl-C asks the run to stop at the next layer (nothing is written); a second Ctrl-C ends the process.</summary>
internal sealed class Cancellation : IDisposable
{
    readonly CancellationTokenSource source = new();

    public Cancellation() => Console.CancelKeyPress += OnCancel;

    public CancellationToken Token => source.Token;

    void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (source.IsCancellationRequested) return; // second Ctrl-C: let the process end
        e.Cancel = true;
        Console.Error.WriteLine();
        Console.Error.WriteLine("stopping (Ctrl-C again to abort now)");
        source.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        source.Dispose();
    }
}
