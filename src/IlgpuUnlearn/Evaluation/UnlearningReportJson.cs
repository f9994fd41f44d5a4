using IlgpuUnlearn.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation;

/// <summary>The report as JSON (System.Text.Json, source-generated): forget_class, forget_accuracy, … class_names.</summary>
public static class UnlearningReportJson
{
    public static string Serialize(UnlearningReport report) =>
        JsonSerializer.Serialize(report, UnlearningReportJsonContext.Default.UnlearningReport);

    public static UnlearningReport Deserialize(string json) =>
        JsonSerializer.Deserialize(json, UnlearningReportJsonContext.Default.UnlearningReport)
        ?? throw new JsonException("the JSON holds null, not a report");

    /// <summary>Writes the report to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, UnlearningReport report) => AtomicFile.WriteAllText(path, Serialize(report) + "\n");

    public static UnlearningReport Read(string path) => Deserialize(File.ReadAllText(path));
}

/// <summary>
/// Indented output; NaN (a class with no test images) is written as null (<see cref="NaNAsNullJsonConverter"/>).
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, Converters = [typeof(NaNAsNullJsonConverter)])]
[JsonSerializable(typeof(UnlearningReport))]
internal sealed partial class UnlearningReportJsonContext : JsonSerializerContext;
