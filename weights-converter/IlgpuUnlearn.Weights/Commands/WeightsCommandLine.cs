using System.Diagnostics;
using System.Globalization;

namespace IlgpuUnlearn.Weights.Commands;

/// <summary>
/// The command line of `weights-converter` (and of `ilgpu-unlearn convert|inspect`, which can pass its
/// arguments here): `convert IN OUT`, `inspect FILE`, and the hidden `bench-read FILE [REPEATS]` and
/// `bench-map FILE [REPEATS]`.
/// Errors print one line "error: FILE: problem" to the error writer and return a non-zero code; never a stack trace.
/// </summary>
public static class WeightsCommandLine
{
    public const int Success = 0;
    public const int FileError = 1;
    public const int UsageError = 2;

    public const string Usage =
        "usage: weights-converter convert IN OUT [--force]   (formats from the extensions: .pth/.pt, .safetensors; --force replaces an existing OUT)\n" +
        "       weights-converter inspect FILE     (one line per tensor: name, dtype, shape, sum)";

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        try
        {
            return args switch
            {
                ["convert", string input, string outputPath] => RunConvert(input, outputPath, false, output, error),
                ["convert", string input, string outputPath, "--force"] => RunConvert(input, outputPath, true, output, error),
                ["convert", "--force", string input, string outputPath] => RunConvert(input, outputPath, true, output, error),
                ["inspect", string path] => RunInspect(path, output, error),
                ["bench-read", string path] => RunBenchRead(path, 10, output),
                ["bench-read", string path, string repeats] when int.TryParse(repeats, CultureInfo.InvariantCulture, out int count) && count > 0
                    => RunBenchRead(path, count, output),
                ["bench-map", string path] => RunBenchMap(path, 10, output),
                ["bench-map", string path, string repeats] when int.TryParse(repeats, CultureInfo.InvariantCulture, out int count) && count > 0
                    => RunBenchMap(path, count, output),
                ["help" or "--help" or "-h"] => PrintUsage(output, Success),
                _ => PrintUsage(error, UsageError),
            };
        }
        catch (WeightsFormatException e)
        {
            error.WriteLine($"error: {OneLine(e.Message)}");
            return FileError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            error.WriteLine($"error: {OneLine(e.Message)}");
            return FileError;
        }
    }

    /// <summary>Inside a one-line error message a file name or a problem may hold newlines; they become spaces.</summary>
    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private static int PrintUsage(TextWriter writer, int code)
    {
        writer.WriteLine(Usage);
        return code;
    }

    /// <summary>What a file held besides its state dict, one "warning: FILE: ..." line each on the error writer.</summary>
    private static void WriteWarnings(string path, IReadOnlyList<string> warnings, TextWriter error)
    {
        foreach (string warning in warnings)
        {
            error.WriteLine($"warning: {OneLine(path)}: {OneLine(warning)}");
        }
    }

    private static int RunConvert(string input, string outputPath, bool force, TextWriter output, TextWriter error)
    {
        ConvertReport report = WeightsConverter.Convert(input, outputPath, force);
        WriteWarnings(input, report.Warnings, error);
        if (WeightsConverter.LeftOutLine(report) is { } leftOut)
        {
            error.WriteLine($"note: {OneLine(leftOut)}");
        }
        if (report.Replaced)
        {
            error.WriteLine($"note: replaced {OneLine(outputPath)} (--force)");
        }
        output.WriteLine($"wrote {report.TensorCount} tensors from {report.InputPath} ({report.InputFormat}) to {report.OutputPath} ({report.OutputFormat})");
        return Success;
    }

    private static int RunInspect(string path, TextWriter output, TextWriter error)
    {
        InspectReport report = WeightsConverter.Inspect(path);
        WriteWarnings(path, report.Warnings, error);
        WeightsConverter.WriteInspect(report, output);
        return Success;
    }

    /// <summary>Times <see cref="WeightsFile.Load(string)"/> after a warm-up; prints the best time in milliseconds.</summary>
    private static int RunBenchRead(string path, int repeats, TextWriter output)
    {
        LoadedWeights warmUp = WeightsFile.Load(path);
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            LoadedWeights loaded = WeightsFile.Load(path);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            GC.KeepAlive(loaded);
        }
        long bytes = warmUp.Tensors.Sum(t => (long)t.Value.Memory.Length);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench-read: {warmUp.Tensors.Count} tensors, {bytes} bytes, best of {repeats}: {best:F2} ms"));
        return Success;
    }

    /// <summary>Times <see cref="ResNet18.ResNet18Mapping.Load"/> (read and convert to float32) after a warm-up; prints the best time in milliseconds.</summary>
    private static int RunBenchMap(string path, int repeats, TextWriter output)
    {
        ResNet18.ResNet18Weights warmUp = ResNet18.ResNet18Mapping.Load(path);
        (int width, int classes) = (warmUp.Width, warmUp.NumClasses);
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            long start = Stopwatch.GetTimestamp();
            ResNet18.ResNet18Weights loaded = ResNet18.ResNet18Mapping.Load(path, width, classes);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            GC.KeepAlive(loaded);
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench-map: {warmUp.Tensors.Count} tensors (width {width}, {classes} classes), best of {repeats}: {best:F2} ms"));
        return Success;
    }
}
