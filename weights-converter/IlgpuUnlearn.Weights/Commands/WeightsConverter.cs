using System.Globalization;

namespace IlgpuUnlearn.Weights.Commands;

/// <summary>One row of `inspect`: a tensor's name, dtype, shape and the sum of its values.</summary>
public sealed record TensorSummary(string Name, TensorDType DType, int[] Shape, double Sum)
{
    /// <summary>BatchNorm's running_mean, running_var and num_batches_tracked are buffers, not parameters (as in PyTorch).</summary>
    public bool IsBuffer => Name.EndsWith(".running_mean", StringComparison.Ordinal) || Name.EndsWith(".running_var", StringComparison.Ordinal)
        || Name.EndsWith(".num_batches_tracked", StringComparison.Ordinal);
}

/// <summary>What `inspect` found in a file.</summary>
public sealed record InspectReport(string Path, WeightsFileFormat Format, string? WrapperKey, string StrippedPrefix, IReadOnlyList<TensorSummary> Tensors, IReadOnlyList<string> Warnings);

/// <summary>What `convert` did.</summary>
/// <param name="LeftOut">The checkpoint's entries beside the state dict that the output does not hold ('epoch', 'optimizer', ...).</param>
/// <param name="Replaced">Whether an existing output file was replaced (only with force).</param>
public sealed record ConvertReport(string InputPath, WeightsFileFormat InputFormat, string OutputPath, WeightsFileFormat OutputFormat, int TensorCount,
    IReadOnlyList<string> Warnings, IReadOnlyList<string> LeftOut, bool Replaced);

/// <summary>The `convert` and `inspect` commands as library calls (the main program's verbs call these).</summary>
public static class WeightsConverter
{
    /// <summary>
    /// Reads <paramref name="inputPath"/> (.pth zip or legacy, or .safetensors) and writes its state dict to
    /// <paramref name="outputPath"/> in the format of its extension (.pth/.pt: torch zip, .safetensors), with the
    /// same keys (wrapper prefixes 'module.' and '_orig_mod.' removed, a checkpoint wrapper dropped) and dtypes. The output is written atomically.
    /// Before anything is read: the output must not be the input (the same path, a symbolic or a hard link), must not exist
    /// unless <paramref name="force"/>, and its folder must take a new file; each failure is an <see cref="IOException"/>
    /// naming the file.
    /// </summary>
    public static ConvertReport Convert(string inputPath, string outputPath, bool force = false)
    {
        WeightsFileFormat outputFormat = WeightsFile.FormatFromExtension(outputPath);
        if (!File.Exists(inputPath))
        {
            throw new IOException($"{inputPath}: no such file");
        }
        if (FileIdentity.Same(inputPath, outputPath))
        {
            throw new IOException($"{outputPath} is the input file itself ({inputPath}, the same file or a link to it): converting would replace it; name another output");
        }
        bool replaced = File.Exists(outputPath);
        if (replaced && !force)
        {
            throw new IOException($"{outputPath} exists: add --force to replace it, or name another output");
        }
        if (Directory.Exists(outputPath))
        {
            throw new IOException($"{outputPath} is a folder; name the output file");
        }
        CheckWritable(outputPath);
        LoadedWeights loaded = WeightsFile.Load(inputPath);
        WeightsFile.Save(outputPath, loaded.Tensors, outputFormat);
        return new ConvertReport(inputPath, loaded.Format, outputPath, outputFormat, loaded.Tensors.Count, loaded.Warnings, loaded.LeftOut, replaced);
    }

    /// <summary>Proves the output's folder takes a new file (created and deleted), so that a bad output fails before the read.</summary>
    private static void CheckWritable(string outputPath)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(outputPath)) ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new IOException($"{outputPath}: the folder {folder} does not exist");
        }
        string probe = Path.Combine(folder, $".{Path.GetFileName(outputPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (UnauthorizedAccessException)
        {
            throw new IOException($"{outputPath}: cannot write into {folder} (permission denied)");
        }
    }

    /// <summary>The line convert prints about what the output leaves out of a checkpoint, or null when it leaves out nothing.</summary>
    public static string? LeftOutLine(ConvertReport report) => report.LeftOut.Count == 0 ? null
        : $"{report.OutputPath} holds the state dict only; left out of {report.InputPath}: {string.Join(", ", report.LeftOut)}";

    /// <summary>Reads a file and summarises each tensor.</summary>
    public static InspectReport Inspect(string path)
    {
        LoadedWeights loaded = WeightsFile.Load(path);
        var summaries = loaded.Tensors.Select(entry => new TensorSummary(entry.Key, entry.Value.DType, entry.Value.Shape, entry.Value.Sum())).ToList();
        return new InspectReport(path, loaded.Format, loaded.WrapperKey, loaded.StrippedPrefix, summaries, loaded.Warnings);
    }

    /// <summary>
    /// Prints an inspect report: a header (file, format, tensor count, wrapper), one aligned row per tensor (name, dtype,
    /// shape, sum of values), then a summary (parameters, values per dtype) and the architecture the names and shapes show.
    /// </summary>
    public static void WriteInspect(InspectReport report, TextWriter output)
    {
        string format = report.Format switch
        {
            WeightsFileFormat.TorchZip => "torch.save zip",
            WeightsFileFormat.TorchLegacy => "torch.save legacy",
            _ => "safetensors",
        };
        string wrapper = report.WrapperKey is null ? "" : $", state dict under '{report.WrapperKey}'";
        string prefix = report.StrippedPrefix.Length == 0 ? "" : $", '{report.StrippedPrefix}' prefix removed";
        output.WriteLine($"{report.Path}: {format}, {report.Tensors.Count} tensors{wrapper}{prefix}");
        output.WriteLine();

        string[][] rows = [["name", "dtype", "shape", "sum"], .. report.Tensors.Select(t => new[]
        {
            t.Name, t.DType.TorchName(), StoredTensor.ShapeText(t.Shape), t.Sum.ToString("R", CultureInfo.InvariantCulture),
        })];
        int[] widths = Enumerable.Range(0, 3).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (string[] row in rows)
        {
            output.WriteLine($"{row[0].PadRight(widths[0])}  {row[1].PadRight(widths[1])}  {row[2].PadRight(widths[2])}  {row[3]}");
        }

        output.WriteLine();
        var parameters = report.Tensors.Where(t => !t.IsBuffer).ToList();
        long parameterCount = parameters.Sum(t => StoredTensor.ElementCountOf(t.Shape));
        string dtypes = string.Join(", ", report.Tensors.GroupBy(t => t.DType).Select(g =>
            string.Create(CultureInfo.InvariantCulture, $"{g.Key.TorchName()} {g.Sum(t => StoredTensor.ElementCountOf(t.Shape)):N0} values in {g.Count()} tensors")));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"parameters: {parameterCount:N0} in {parameters.Count} tensors (without BatchNorm's running statistics and counters)"));
        output.WriteLine($"dtypes: {(dtypes.Length == 0 ? "none" : dtypes)}");
        output.WriteLine($"architecture: {Architecture(report.Tensors)}");
    }

    /// <summary>
    /// The ResNet the names and shapes describe: blocks per stage (layer1..layer4, keys "layerL.B.…"), basic blocks (conv1, conv2)
    /// or bottlenecks (conv3 too), mapped to ResNet18/34 (basic 2-2-2-2, 3-4-6-3) and ResNet50/101/152 (bottleneck 3-4-6-3,
    /// 3-4-23-3, 3-8-36-3), the depths of He et al. 2016, Table 1; then the stem (conv1: 3x3 as the CIFAR variants, 7x7 as
    /// ImageNet's), width and input channels from conv1.weight, and classes from fc.weight or linear.weight.
    /// </summary>
    internal static string Architecture(IReadOnlyList<TensorSummary> tensors)
    {
        var blocks = new int[4];
        bool bottleneck = false;
        foreach (TensorSummary t in tensors)
        {
            string[] parts = t.Name.Split('.');
            if (parts.Length < 3 || parts[0].Length != 6 || !parts[0].StartsWith("layer", StringComparison.Ordinal)
                || parts[0][5] is < '1' or > '4' || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int block))
            {
                continue;
            }
            int stage = parts[0][5] - '1';
            blocks[stage] = Math.Max(blocks[stage], block + 1);
            bottleneck |= parts[2] == "conv3";
        }
        if (blocks.Any(b => b == 0))
        {
            return "not a ResNet (no layer1..layer4 blocks)";
        }
        string depths = string.Join("-", blocks);
        string name = (bottleneck, depths) switch
        {
            (false, "2-2-2-2") => "ResNet18",
            (false, "3-4-6-3") => "ResNet34",
            (true, "3-4-6-3") => "ResNet50",
            (true, "3-4-23-3") => "ResNet101",
            (true, "3-8-36-3") => "ResNet152",
            _ => "a ResNet of no standard depth",
        };
        var details = new List<string> { $"{(bottleneck ? "bottleneck" : "basic")} blocks {depths}" };
        if (tensors.FirstOrDefault(t => t.Name == "conv1.weight") is { Shape: [int width, int channels, int k, _] })
        {
            string stem = k switch { 3 => "CIFAR stem (3x3 conv1)", 7 => "ImageNet stem (7x7 conv1)", _ => $"{k}x{k} conv1" };
            details.Add($"{stem}, width {width}, {channels} input channel{(channels == 1 ? "" : "s")}");
        }
        if (tensors.FirstOrDefault(t => t.Name is "fc.weight" or "linear.weight") is { Shape: [int classes, _] })
        {
            details.Add($"{classes} classes");
        }
        return $"{name} ({string.Join("; ", details)})";
    }
}
