using System.Diagnostics;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// scripts/slurm/forget-all.sbatch without Slurm: each array task as sbatch would start it (SLURM_ARRAY_TASK_ID set), the
/// program replaced by <c>echo</c> (ILGPU_UNLEARN), so that the command line each task runs is checked: the class of a task,
/// and with SEEDS (unlearn --seeds' value: a list or a count) the class x seed it runs and its outputs' names; bad SEEDS values
/// refused on one line with exit code 2.
/// </summary>
public sealed class SlurmArrayTests
{
    static (int ExitCode, string Stdout, string Stderr) Task(int task, string? seeds, string folder)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
        start.ArgumentList.Add(Repository.File("scripts/slurm/forget-all.sbatch"));
        start.ArgumentList.Add("runs");
        start.ArgumentList.Add("--device");
        start.ArgumentList.Add("cpu");
        start.Environment["SLURM_ARRAY_TASK_ID"] = task.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["ILGPU_UNLEARN"] = "echo";
        start.Environment.Remove("MODEL_NAME");
        if (seeds is null) start.Environment.Remove("SEEDS"); else start.Environment["SEEDS"] = seeds;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(30_000), "the script did not finish in 30 s");
        return (process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The command the task ran: the last line echo printed.</summary>
    static string Command(int task, string? seeds)
    {
        using var folder = new IlgpuUnlearn.Tests.Data.TempFolder();
        var (code, stdout, stderr) = Task(task, seeds, folder.Path);
        Assert.True(code == 0, $"exit code {code}: {stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
    }

    static string Expected(int k, int? seed)
    {
        string name = $"runs/cifar10_resnet18_AdvNegGrad_{k}{(seed is int s ? $"_s{s}" : "")}";
        return $"unlearn --forget-class {k}{(seed is int s2 ? $" --seed {s2}" : "")} --out {name}.pth --json {name}.card.json --device cpu";
    }

    [Fact]
    public void WithoutSeedsATaskIsAClass()
    {
        Assert.Equal(Expected(0, null), Command(0, null));
        Assert.Equal(Expected(7, null), Command(7, null));
    }

    /// <summary>n seeds: task T is class T / n with the (T mod n)-th seed, so --array=0-(10n-1) covers class x seed once each.</summary>
    [Fact]
    public void WithSeedsTheArrayIsClassBySeed()
    {
        var seen = new List<string>();
        for (int task = 0; task < 30; task++) seen.Add(Command(task, "3"));
        Assert.Equal(Enumerable.Range(0, 10).SelectMany(k => Enumerable.Range(0, 3).Select(s => Expected(k, s))), seen);
        // A list names the seeds themselves.
        Assert.Equal(Expected(0, 5), Command(0, "5,7"));
        Assert.Equal(Expected(1, 7), Command(3, "5,7"));
    }

    [Theory]
    [InlineData("a,b", "forget-all: SEEDS 'a,b': 'a' is not a whole number from 0")]
    [InlineData("1,1", "forget-all: SEEDS '1,1' gives a seed twice")]
    [InlineData("0", "forget-all: SEEDS '0' is not a list of seeds (0,1,2) or a count of at least 1 (3: seeds 0, 1, 2)")]
    [InlineData("-3", "forget-all: SEEDS '-3' is not a list of seeds (0,1,2) or a count of at least 1 (3: seeds 0, 1, 2)")]
    public void BadSeedsAreOneLine(string seeds, string line)
    {
        using var folder = new IlgpuUnlearn.Tests.Data.TempFolder();
        var (code, stdout, stderr) = Task(4, seeds, folder.Path);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal(line, stderr.TrimEnd('\n'));
    }

    /// <summary>A task whose card report exists is skipped (resubmitting the array redoes only the failed tasks).</summary>
    [Fact]
    public void ATaskWithItsReportIsSkipped()
    {
        using var folder = new IlgpuUnlearn.Tests.Data.TempFolder();
        Directory.CreateDirectory(Path.Combine(folder.Path, "runs"));
        File.WriteAllText(Path.Combine(folder.Path, "runs", "cifar10_resnet18_AdvNegGrad_1_s4.card.json"), "{}");
        var (code, stdout, _) = Task(3, "3,4", folder.Path);   // 2 seeds: task 3 is class 1, the second seed
        Assert.Equal(0, code);
        Assert.Equal("class 1 seed 4: runs/cifar10_resnet18_AdvNegGrad_1_s4.card.json exists; skipped", stdout.TrimEnd('\n'));
    }
}
