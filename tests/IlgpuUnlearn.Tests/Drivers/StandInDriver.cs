using System.Diagnostics;

namespace IlgpuUnlearn.Tests.Drivers;

/// <summary>
/// Builds the stand-in CUDA driver (standin_libcuda.c, copied next to the tests) with gcc into a folder of the test's own. The C
/// file answers as one compute capability 9.0 device under a CUDA 13.0 driver; cuInitResult 34 makes it the toolkit's stub.
/// </summary>
internal static class StandInDriver
{
    public static string Build(string folder, string fileName, int cuInitResult = 0)
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Drivers", "standin_libcuda.c");
        Assert.True(File.Exists(source), $"{source} is missing: the test project copies Drivers/standin_libcuda.c to its output");
        Directory.CreateDirectory(folder);
        string output = Path.Combine(folder, fileName);
        var start = new ProcessStartInfo("gcc") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-shared", "-fPIC", "-Wall", "-Werror", $"-DCUINIT_RESULT={cuInitResult}", "-o", output, source })
            start.ArgumentList.Add(a);
        Process gcc;
        try
        {
            gcc = Process.Start(start) ?? throw new InvalidOperationException("gcc did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"gcc is needed to build the stand-in CUDA driver of this test (apt-get install gcc): {e.Message}", e);
        }
        using (gcc)
        {
            var stderr = gcc.StandardError.ReadToEndAsync();
            gcc.StandardOutput.ReadToEnd();
            gcc.WaitForExit();
            Assert.True(gcc.ExitCode == 0, $"gcc failed on {source}: {stderr.Result}");
        }
        return output;
    }
}
