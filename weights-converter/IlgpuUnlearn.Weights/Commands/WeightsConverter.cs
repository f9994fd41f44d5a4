using System.Globalization;

namespace IlgpuUnlearn.Weights.Commands;

/// <summary>One line of `inspect`: a tensor's name, dtype, shape and the sum of its values.</summary>
public sealed record TensorSummary(string Name, TensorDType DType, int[] Shape, double Sum)
{
    /// <summary>"layer1.0.conv1.weight  float32  [64, 64, 3, 3]  sum=-1.23456789e+00".</summary>
    public override string ToString() =>
        $"{Name}  {DType.TorchName()}  {StoredTensor.ShapeText(Shape)}  sum={Sum.ToString("R", CultureInfo.InvariantCulture)}";
}

/// <summary>What `inspect` found in a file.</summary>
public sealed record InspectReport(string Path, WeightsFileFormat Format, string? WrapperKey, string StrippedPrefix, IReadOnlyList<TensorSummary> Tensors, IReadOnlyList<string> Warnings);

/// <summary>What `convert` did.</summary>
public sealed record ConvertReport(string InputPath, WeightsFileFormat InputFormat, string OutputPath, WeightsFileFormat OutputFormat, int TensorCount, IReadOnlyList<string> Warnings);

/// <summary>The `convert` and `inspect` commands as library calls (the main program's verbs call these).</summary>
public static class WeightsConverter
{
    /// <summary>
    /// Reads <paramref name="inputPath"/> (.pth zip or legacy, or .safetensors) and writes its state dict to
    /// <paramref name="outputPath"/> in the format of its extension (.pth/.pt: torch zip, .safetensors), with the
    /// same keys (wrapper prefixes 'module.' and '_orig_mod.' removed, a checkpoint wrapper dropped) and dtypes. The output is written atomically.
    /// </summary>
    public static ConvertReport Convert(string inputPath, string outputPath)
    {
        WeightsFileFormat outputFormat = WeightsFile.FormatFromExtension(outputPath);
        LoadedWeights loaded = WeightsFile.Load(inputPath);
        WeightsFile.Save(outputPath, loaded.Tensors, outputFormat);
        return new ConvertReport(inputPath, loaded.Format, outputPath, outputFormat, loaded.Tensors.Count, loaded.Warnings);
    }

    /// <summary>Reads a file and summarises each tensor.</summary>
    public static InspectReport Inspect(string path)
    {
        LoadedWeights loaded = WeightsFile.Load(path);
        var summaries = loaded.Tensors.Select(entry => new TensorSummary(entry.Key, entry.Value.DType, entry.Value.Shape, entry.Value.Sum())).ToList();
        return new InspectReport(path, loaded.Format, loaded.WrapperKey, loaded.StrippedPrefix, summaries, loaded.Warnings);
    }

    /// <summary>Prints an inspect report: one line per tensor (see <see cref="TensorSummary.ToString"/>).</summary>
    public static void WriteInspect(InspectReport report, TextWriter output)
    {
        foreach (TensorSummary tensor in report.Tensors)
        {
            output.WriteLine(tensor.ToString());
        }
    }
}
