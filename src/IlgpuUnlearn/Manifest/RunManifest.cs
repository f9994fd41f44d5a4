using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Manifest;

/// <summary>
/// What a run did, written beside its output model so that the result can be audited and repeated: the tool and its
/// version (with the commit), the command line, the device, every setting, the SHA-256 of every input (weights, data
/// files, the retrained reference) and output (model, report, pictures), and the wall time of each phase with its
/// throughput. <see cref="ManifestVerifier"/> re-hashes the files.
/// </summary>
public sealed class RunManifest
{
    public const string FormatName = "ilgpu-unlearn run manifest";

    [JsonPropertyName("format")]
    public string Format { get; init; } = FormatName;

    [JsonPropertyName("tool")]
    public string Tool { get; init; } = "ilgpu-unlearn";

    /// <summary>The program's informational version: the version and, after '+', the git commit it was built from.</summary>
    [JsonPropertyName("version")]
    public string Version { get; init; } = "";

    /// <summary>The command line as typed after the program's name: the verb, then its arguments (["unlearn", "--forget-class", "3"]).</summary>
    [JsonPropertyName("command")]
    public string[] Command { get; init; } = [];

    [JsonPropertyName("device")]
    public string Device { get; init; } = "";

    [JsonPropertyName("machine")]
    public string Machine { get; init; } = "";

    [JsonPropertyName("created_utc")]
    public string CreatedUtc { get; init; } = "";

    /// <summary>Every setting the run used, by option name, as invariant-culture text.</summary>
    [JsonPropertyName("settings")]
    public SortedDictionary<string, string> Settings { get; init; } = [];

    [JsonPropertyName("inputs")]
    public List<FileRecord> Inputs { get; init; } = [];

    [JsonPropertyName("outputs")]
    public List<FileRecord> Outputs { get; init; } = [];

    /// <summary>Seconds from the process start to the manifest (the phases add up to it; the manifest's own write, milliseconds, comes after).</summary>
    [JsonPropertyName("wall_seconds")]
    public double WallSeconds { get; init; }

    [JsonPropertyName("phases")]
    public List<PhaseRecord> Phases { get; init; } = [];
}

/// <summary>A file the run read or wrote: its role, its path (relative to the manifest's folder when inside it), size and SHA-256 (hex).</summary>
public sealed record FileRecord(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>One phase of the run: wall seconds, and images processed (images per second) where that means something.</summary>
public sealed record PhaseRecord(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("images"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Images = null,
    [property: JsonPropertyName("images_per_second"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? ImagesPerSecond = null);
