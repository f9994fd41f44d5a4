using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuUnlearn.IO;

namespace IlgpuUnlearn.Evaluation;

/// <summary>
/// <see cref="RunReport"/> as JSON (System.Text.Json, source-generated). A file holds one report or an array of them
/// (unlearn --forget-class all); <see cref="ReadAll"/> accepts both.
/// </summary>
public static class RunReportJson
{
    public static string Serialize(RunReport report) => JsonSerializer.Serialize(report, RunReportJsonContext.Default.RunReport);

    public static string Serialize(IReadOnlyList<RunReport> reports) =>
        reports.Count == 1 ? Serialize(reports[0]) : JsonSerializer.Serialize(reports.ToArray(), RunReportJsonContext.Default.RunReportArray);

    /// <summary>One model's figures alone (eval --json without a forget class: overall and per-class accuracy and loss on both splits).</summary>
    public static void WriteEvaluation(string path, ModelEvaluation evaluation) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(evaluation, RunReportJsonContext.Default.ModelEvaluation) + "\n");

    /// <summary>Writes one report (or an array for several) atomically.</summary>
    public static void Write(string path, IReadOnlyList<RunReport> reports) => AtomicFile.WriteAllText(path, Serialize(reports) + "\n");

    /// <summary>Every report in the file.</summary>
    /// <exception cref="InvalidDataException">Not a report or an array of reports (the message names the file).</exception>
    public static RunReport[] ReadAll(string path)
    {
        string text = File.ReadAllText(path);
        try
        {
            using var document = JsonDocument.Parse(text);
            RunReport[]? reports = document.RootElement.ValueKind == JsonValueKind.Array
                ? document.RootElement.Deserialize(RunReportJsonContext.Default.RunReportArray)
                : [document.RootElement.Deserialize(RunReportJsonContext.Default.RunReport)!];
            if (reports is null || reports.Length == 0 || reports.Any(r => r?.Evaluation?.Model is not { Length: > 0 }))
                throw new InvalidDataException($"{path}: not an ilgpu-unlearn run report (no evaluation in it)");
            return reports;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not an ilgpu-unlearn run report ({e.Message})", e);
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, Converters = [typeof(NaNAsNullJsonConverter)])]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(RunReport[]))]
[JsonSerializable(typeof(ModelEvaluation))]
internal sealed partial class RunReportJsonContext : JsonSerializerContext;
