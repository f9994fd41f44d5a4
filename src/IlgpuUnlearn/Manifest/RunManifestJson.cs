using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using IlgpuUnlearn.IO;

namespace IlgpuUnlearn.Manifest;

/// <summary><see cref="RunManifest"/> as JSON; the manifest of model X.pth is X.manifest.json (<see cref="PathFor"/>).</summary>
public static class RunManifestJson
{
    /// <summary>The manifest beside a model: its name with the extension replaced (X.pth -> X.manifest.json), as every output beside a model is named.</summary>
    public static string PathFor(string modelPath) => Path.ChangeExtension(modelPath, ".manifest.json");

    /// <summary>Indented; '+' and other characters left as they are (the version reads 1.0.0+commit).</summary>
    private static readonly RunManifestJsonContext Writing = new(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    public static void Write(string path, RunManifest manifest) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(manifest, Writing.RunManifest) + "\n");

    /// <exception cref="InvalidDataException">Not a run manifest (the message names the file).</exception>
    public static RunManifest Read(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("format", out var format)
                || format.ValueKind != JsonValueKind.String || format.GetString() != RunManifest.FormatName)
                throw new InvalidDataException($"{path}: not an ilgpu-unlearn run manifest (format is not '{RunManifest.FormatName}')");
            return document.RootElement.Deserialize(RunManifestJsonContext.Default.RunManifest)
                ?? throw new InvalidDataException($"{path}: not an ilgpu-unlearn run manifest");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not an ilgpu-unlearn run manifest ({e.Message})", e);
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(RunManifest))]
internal sealed partial class RunManifestJsonContext : JsonSerializerContext;
