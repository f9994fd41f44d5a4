using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuUnlearn.IO;

namespace IlgpuUnlearn.Evaluation.Seeds;

/// <summary><see cref="SeedsReport"/>s as JSON: a file holds an array of them (one per method and forget class).</summary>
public static class SeedsReportJson
{
    public static string Serialize(IReadOnlyList<SeedsReport> reports) =>
        JsonSerializer.Serialize(reports.ToArray(), SeedsReportJsonContext.Default.SeedsReportArray);

    /// <summary>Writes the reports as one array, atomically.</summary>
    public static void Write(string path, IReadOnlyList<SeedsReport> reports) => AtomicFile.WriteAllText(path, Serialize(reports) + "\n");

    /// <summary>The reports of a file written by <see cref="Write"/>.</summary>
    /// <exception cref="InvalidDataException">Not an array of seeds reports (the message names the file).</exception>
    public static SeedsReport[] Read(string path)
    {
        try
        {
            var reports = JsonSerializer.Deserialize(File.ReadAllText(path), SeedsReportJsonContext.Default.SeedsReportArray);
            if (reports is null || reports.Any(r => r is null || r.Seeds.Length == 0))
                throw new InvalidDataException($"{path}: not an ilgpu-unlearn seeds report (no seeds in it)");
            return reports;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not an ilgpu-unlearn seeds report (its JSON is broken or has other fields)", e);
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, Converters = [typeof(NaNAsNullJsonConverter)])]
[JsonSerializable(typeof(SeedsReport[]))]
internal sealed partial class SeedsReportJsonContext : JsonSerializerContext;
