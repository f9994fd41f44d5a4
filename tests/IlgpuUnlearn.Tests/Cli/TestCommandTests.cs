using System.Diagnostics;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// README's test command installs what the tests need (scripts/test-setup.sh) and runs them with dotnet test, and CI runs exactly that command,
/// so a newcomer's first run of it is what CI checks.
/// </summary>
public sealed class TestCommandTests
{
    /// <summary>The command lines of README's fenced block that follows the line "The tests:".</summary>
    static string[] ReadmeTestCommand()
    {
        var lines = File.ReadAllLines(Repository.File("README.md"));
        int at = Array.FindIndex(lines, l => l.Trim() == "The tests:");
        Assert.True(at >= 0, "README has no 'The tests:' paragraph");
        int open = Array.FindIndex(lines, at, l => l.StartsWith("```", StringComparison.Ordinal));
        int close = Array.FindIndex(lines, open + 1, l => l.StartsWith("```", StringComparison.Ordinal));
        return [.. lines[(open + 1)..close].Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    [Fact]
    public void ReadmeGivesOneScriptThatCiRunsAsItIs()
    {
        string command = Assert.Single(ReadmeTestCommand());
        Assert.Equal("bash scripts/test-setup.sh && dotnet test IlgpuUnlearn.sln -c Release", command);
        var ci = File.ReadAllLines(Repository.File(".ci/run")).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        Assert.Contains(command, ci);
    }

    /// <summary>The script installs every tool the tests look for and leaves running them to the command's dotnet test.</summary>
    [Fact]
    public void TheScriptInstallsWhatTheTestsNeedAndRunsThem()
    {
        string script = File.ReadAllText(Repository.File("scripts/test-setup.sh"));
        foreach (string need in new[] { "python3-torch", "dataset-fashion-mnist", "librsvg2-bin", "chromium", "texlive-latex-base texlive-latex-recommended", "gcc libc6-dev", "debian-archive-keyring", "bash scripts/fetch-ptxas.sh" })
            Assert.Contains(need, script, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet test", script.Split('\n').Where(l => !l.TrimStart().StartsWith('#')), StringComparer.Ordinal);

        var bash = Process.Start(new ProcessStartInfo("bash", ["-n", Repository.File("scripts/test-setup.sh")]) { RedirectStandardError = true })!;
        string errors = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        Assert.True(bash.ExitCode == 0, $"scripts/test-setup.sh does not parse: {errors}");
    }
}
