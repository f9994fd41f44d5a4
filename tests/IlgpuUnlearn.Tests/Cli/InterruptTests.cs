namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// Ctrl-C inside the metrics (here the bootstrap, made long on purpose) stops the run: exit code 130, one line saying so,
/// no report printed or written. No timing is asserted: the test waits for the phase's progress line, interrupts, and
/// checks that the work did not finish.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class InterruptTests(TinyCifarFiles files, Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void CtrlCInTheBootstrapStopsWithExitCode130()
    {
        string folder = files.NewFolder("interrupt-bootstrap");
        string json = Path.Combine(folder, "run.report.json");
        // 5,000,000 resamples of 100 images: far longer than the wait for the first progress line (and bounded if the
        // interrupt were ignored: the test would then fail on the exit code, not hang).
        using var running = CliProcess.Start(null, folder, "eval", "--weights", files.Weights, "--forget-class", "3", "--data", files.DataFolder,
            "--device", "cpu", "--limit", "50", "--batch-size", "10", "--bootstrap", "5000000", "--report-json", json);
        if (!running.WaitForStderrLine(l => l.StartsWith("metrics of the evaluated model: bootstrap ", StringComparison.Ordinal), TimeSpan.FromSeconds(240)))
            Assert.Fail("the bootstrap's progress line never came:\n" + running.Finish());
        running.Interrupt();
        var result = running.Finish();
        output.WriteLine(result.ToString());
        Assert.Equal(130, result.ExitCode);
        Assert.Equal("ilgpu-unlearn: interrupted; nothing was written", result.StderrLines[^1]);
        Assert.DoesNotContain("metrics with 95% bootstrap intervals", result.Stdout);
        Assert.DoesNotContain(result.StderrLines, l => l.Contains("bootstrap 5000000/5000000", StringComparison.Ordinal));
        Assert.False(File.Exists(json));
    }
}
