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
        NotJson(path);
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
            // The parser's sentence names its internals (LineNumber, BytePositionInLine); say where in the user's words.
            string where = e.LineNumber is { } line ? $" at line {line + 1}" : "";
            throw new InvalidDataException($"{path}: not an ilgpu-unlearn run report (its JSON is broken or has other fields{where})", e);
        }
    }

    /// <summary>
    /// Refuses a file whose first byte (after blanks and a UTF-8 byte-order mark) cannot start a JSON value, naming
    /// its first bytes in hex: "PK" (50 4B) is a zip, as a PyTorch .pth is. Reads at most 64 bytes.
    /// </summary>
    static void NotJson(string path)
    {
        var head = new byte[64];
        int n;
        using (var stream = File.OpenRead(path)) n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        int i = n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF ? 3 : 0;
        while (i < n && head[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        // Any byte that can start a JSON value goes on to the parser (which says what a report lacks); the rest is not JSON.
        if (i < n && (head[i] is (byte)'{' or (byte)'[' or (byte)'"' or (byte)'-' or (byte)'t' or (byte)'f' or (byte)'n' || char.IsAsciiDigit((char)head[i]))) return;
        if (i >= n) throw new InvalidDataException($"{path}: is not a JSON run report (it is empty)");
        string bytes = Convert.ToHexString(head, i, Math.Min(2, n - i)).Insert(2, " ").Trim();
        string guess = n - i >= 2 && head[i] == (byte)'P' && head[i + 1] == (byte)'K' ? ": a zip/.pth?" : "";
        throw new InvalidDataException($"{path}: is not a JSON run report (it starts with bytes {bytes}{guess})");
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, Converters = [typeof(NaNAsNullJsonConverter)])]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(RunReport[]))]
[JsonSerializable(typeof(ModelEvaluation))]
internal sealed partial class RunReportJsonContext : JsonSerializerContext;
