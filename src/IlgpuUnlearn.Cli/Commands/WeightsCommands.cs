using CommandLine;
using IlgpuUnlearn.Weights.Commands;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("convert", HelpText = "Convert weights between PyTorch .pth/.pt and .safetensors (format from the extensions), keeping names and dtypes.")]
public sealed class ConvertOptions
{
    [Value(0, MetaName = "IN", Required = true, HelpText = "Input .pth, .pt or .safetensors.")]
    public string Input { get; set; } = "";

    [Value(1, MetaName = "OUT", Required = true, HelpText = "Output .pth, .pt or .safetensors (written atomically); not IN itself, and not an existing file unless --force.")]
    public string Output { get; set; } = "";

    [Option("force", HelpText = "Replace OUT if it exists.")]
    public bool Force { get; set; }
}

[Verb("inspect", HelpText = "List the tensors of a .pth/.pt/.safetensors file: name, dtype, shape, sum of values.")]
public sealed class InspectOptions
{
    [Value(0, MetaName = "FILE", Required = true, HelpText = "A .pth, .pt or .safetensors file.")]
    public string File { get; set; } = "";
}

/// <summary>The converter's two verbs, as the weights-converter program runs them.</summary>
internal static class WeightsCommands
{
    public static int Convert(ConvertOptions o)
    {
        var report = WeightsConverter.Convert(o.Input, o.Output, o.Force);
        foreach (string warning in report.Warnings) Console.Error.WriteLine($"warning: {o.Input}: {warning}");
        if (WeightsConverter.LeftOutLine(report) is { } leftOut) Console.Error.WriteLine($"note: {leftOut}");
        if (report.Replaced) Console.Error.WriteLine($"note: replaced {o.Output} (--force)");
        Console.WriteLine($"wrote {report.OutputPath} ({report.OutputFormat}, {report.TensorCount} tensors) from {report.InputPath} ({report.InputFormat})");
        return 0;
    }

    public static int Inspect(InspectOptions o)
    {
        var report = WeightsConverter.Inspect(o.File);
        foreach (string warning in report.Warnings) Console.Error.WriteLine($"warning: {o.File}: {warning}");
        WeightsConverter.WriteInspect(report, Console.Out);
        return 0;
    }
}
