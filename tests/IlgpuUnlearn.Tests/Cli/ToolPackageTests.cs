using System.Diagnostics;
using System.IO.Compression;
using IlgpuUnlearn.Tests.Data;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// ilgpu-unlearn as a .NET tool, as README says to install it: <c>dotnet pack</c> (of the build the tests run against) makes a
/// tool package whose command is ilgpu-unlearn, <c>dotnet tool install</c> from that local folder puts it in a tool path,
/// and the installed command runs.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class ToolPackageTests(ITestOutputHelper output)
{
    [Trait("Category", "Slow")]
    [Fact]
    public void PacksAsAToolThatInstallsAndRuns()
    {
        string root = IlgpuUnlearn.Tests.Support.Repository.Root;
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        using var temp = new TempFolder();
        string packages = Path.Combine(temp.Path, "packages"), tools = Path.Combine(temp.Path, "tools");

        Run(root, "pack", Path.Combine(root, "src", "IlgpuUnlearn.Cli"), "-c", configuration, "--no-build", "-o", packages);
        string package = Assert.Single(Directory.GetFiles(packages, "IlgpuUnlearn.Cli.*.nupkg"));
        using (var zip = ZipFile.OpenRead(package))
        {
            var settings = zip.Entries.Single(e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal));
            using var reader = new StreamReader(settings.Open());
            Assert.Contains("Name=\"ilgpu-unlearn\"", reader.ReadToEnd(), StringComparison.Ordinal);
        }

        Run(temp.Path, "tool", "install", "IlgpuUnlearn.Cli", "--tool-path", tools, "--add-source", packages, "--ignore-failed-sources");
        string version = Run(temp.Path, Path.Combine(tools, "ilgpu-unlearn"), "--version");
        Assert.Matches(@"^ilgpu-unlearn \d+\.\d+\.\d+( \(commit [0-9a-f]{7,12}\))?\n$", version);
    }

    string Run(string folder, string program, params string[] args)
    {
        bool dotnet = !Path.IsPathRooted(program) || !File.Exists(program);
        var start = new ProcessStartInfo(dotnet ? "dotnet" : program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder,
        };
        if (dotnet) start.ArgumentList.Add(program);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(240)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish in 240 s");
        }
        process.WaitForExit();
        output.WriteLine($"{program} {string.Join(' ', args)}: exit {process.ExitCode}\n{stdout.Result}{stderr.Result}");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: exit {process.ExitCode}\n{stdout.Result}{stderr.Result}");
        return stdout.Result;
    }
}
