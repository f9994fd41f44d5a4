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

    public static CliResult Run(string workingDirectory, params string[] args) => Run(workingDirectory, null, args);

    /// <summary>As <see cref="Run(string, string[])"/> with extra environment variables for the child.</summary>
    public static CliResult Run(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
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
        // Nothing of the user's cache is read or written: every test names its data and weights.
        start.Environment["XDG_CACHE_HOME"] = Path.Combine(workingDirectory, "cache");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;

        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(300)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"ilgpu-unlearn {string.Join(' ', args)} did not finish in 300 s");
        }
        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
