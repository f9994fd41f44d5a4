using System.Diagnostics;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>What one run of the program gave: exit code, standard output, standard error.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built ilgpu-unlearn program (ilgpu-unlearn.dll, copied next to the tests through the project reference) as a
/// child process, so that exit codes, stdout and stderr are exactly what a user sees.
/// </summary>
internal static class CliProcess
{
    static readonly string Program = Path.Combine(AppContext.BaseDirectory, "ilgpu-unlearn.dll");

    /// <summary>The dotnet host: the one that runs the tests when it is dotnet itself, else DOTNET_HOST_PATH, else the PATH's.</summary>
    static string DotnetHost()
    {
        string? current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }

    public static CliResult Run(string workingDirectory, params string[] args) => RunWith(null, workingDirectory, args);

    /// <summary>As <see cref="Run(string, string[])"/> with extra environment variables for the child.</summary>
    public static CliResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        RunWith(environment.ToDictionary(e => e.Key, e => (string?)e.Value), workingDirectory, args);

    /// <summary>As <see cref="Run"/>, with environment variables set (or removed, for a null value).</summary>
    public static CliResult RunWith(IReadOnlyDictionary<string, string?>? environment, string workingDirectory, params string[] args)
    {
        using var running = Start(environment, workingDirectory, args);
        return running.Finish();
    }

    /// <summary>Starts the program and returns at once; its stderr is collected line by line as it comes.</summary>
    public static RunningCli Start(IReadOnlyDictionary<string, string?>? environment, string workingDirectory, params string[] args)
    {
        Assert.True(File.Exists(Program), $"{Program} is missing: the test project should reference IlgpuUnlearn.Cli");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add(Program);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("ILGPU_UNLEARN_DEBUG");
        start.Environment.Remove("ILGPU_UNLEARN_MIRROR");
        // Nothing of the user's cache is read or written: every test names its data and weights.
        start.Environment["XDG_CACHE_HOME"] = Path.Combine(workingDirectory, "cache");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        return new RunningCli(System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet"), args);
    }
}

/// <summary>A started ilgpu-unlearn: wait for a line on stderr, interrupt it as Ctrl-C does, collect what it printed.</summary>
internal sealed class RunningCli : IDisposable
{
    readonly Process process;
    readonly string[] args;
    readonly Task<string> stdout;
    readonly List<string> stderr = [];
    readonly TaskCompletionSource stderrClosed = new();

    public RunningCli(Process process, string[] args)
    {
        this.process = process;
        this.args = args;
        stdout = process.StandardOutput.ReadToEndAsync();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) stderrClosed.TrySetResult();
            else lock (stderr) { stderr.Add(e.Data); Monitor.PulseAll(stderr); }
        };
        process.BeginErrorReadLine();
    }

    /// <summary>Waits until stderr has a line matching <paramref name="match"/>; false when the program ended or the time ran out first.</summary>
    public bool WaitForStderrLine(Func<string, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (stderr)
        {
            while (true)
            {
                if (stderr.Any(match)) return true;
                if (process.HasExited || DateTime.UtcNow > deadline) return false;
                Monitor.Wait(stderr, TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>Sends SIGINT, what a terminal's Ctrl-C sends.</summary>
    public void Interrupt() => Assert.Equal(0, SendSignal(process.Id, 2));

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    public CliResult Finish()
    {
        if (!process.WaitForExit(TimeSpan.FromSeconds(300)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ilgpu-unlearn {string.Join(' ', args)} did not finish in 300 s");
        }
        process.WaitForExit();
        stderrClosed.Task.Wait(TimeSpan.FromSeconds(10));
        lock (stderr) return new CliResult(process.ExitCode, stdout.GetAwaiter().GetResult(), string.Join("\n", stderr) + "\n");
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
