using System.Text.RegularExpressions;
using IlgpuUnlearn.Model;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// A batch that does not fit is refused up front, before any data is made or loaded: one line naming --batch-size, what it
/// needs and the largest batch that fits, exit code 1, no stack trace. A million images need terabytes on any machine.
/// </summary>
public sealed class MemoryCheckTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("bench-epoch", "--retain", "1000000")]
    [InlineData("demo", "--out", "demo-out")]
    public void OversizedBatchIsRefusedOnOneLineNamingTheLargestThatFits(string verb, string option, string value)
    {
        string folder = Directory.CreateTempSubdirectory("memory-check-").FullName;
        try
        {
            var result = CliProcess.Run(folder, verb, "--device", "cpu", "--batch-size", "1000000", option, value);
            output.WriteLine(result.ToString());
            Assert.Equal(1, result.ExitCode);
            var error = Assert.Single(result.StderrLines, l => l.StartsWith("ilgpu-unlearn:", StringComparison.Ordinal));
            Assert.StartsWith("ilgpu-unlearn: error: --batch-size 1000000 needs ", error, StringComparison.Ordinal);
            Assert.Contains(" GB of memory on cpu, which has ", error, StringComparison.Ordinal);
            var largest = Regex.Match(error, @"the largest batch that fits is (\d+)$");
            Assert.True(largest.Success, error);
            Assert.InRange(int.Parse(largest.Groups[1].Value), 1, 999_999);
            Assert.DoesNotContain(result.StderrLines, l => l.Contains("Exception", StringComparison.Ordinal) || Regex.IsMatch(l, @"^\s+at \S"));
            Assert.DoesNotContain(result.StderrLines, l => l.StartsWith("data:", StringComparison.Ordinal)); // refused before the data
            Assert.False(Directory.Exists(Path.Combine(folder, "demo-out")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
