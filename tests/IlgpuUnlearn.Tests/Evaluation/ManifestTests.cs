using System.Security.Cryptography;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Tests.Data;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>The run manifest: SHA-256 of every file (checked against .NET's own SHA256 of the bytes), relative paths, and verify's three answers.</summary>
public sealed class ManifestTests
{
    [Fact]
    public void ManifestRoundTripsThroughVerify()
    {
        using var folder = new TempFolder();
        string model = folder.File("model.pth"), data = Path.Combine(folder.Path, "data");
        Directory.CreateDirectory(data);
        File.WriteAllBytes(model, [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(data, "b.bin"), [4]);
        File.WriteAllBytes(Path.Combine(data, "a.bin"), [5, 6]);
        var manifest = new RunManifest { Version = "1.0.0+abc", Device = "cpu" };
        manifest.Inputs.AddRange(FileDigest.Records("data", data, folder.Path));
        manifest.Outputs.Add(FileDigest.Record("model", model, folder.Path));
        manifest.Phases.Add(new PhaseRecord("unlearning", 1.5, 300, 200));
        string path = RunManifestJson.PathFor(model);
        RunManifestJson.Write(path, manifest);

        var read = RunManifestJson.Read(path);
        Assert.Equal(["data/a.bin", "data/b.bin"], read.Inputs.Select(r => r.Path.Replace('\\', '/')));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(new byte[] { 1, 2, 3 })), read.Outputs[0].Sha256);
        Assert.Equal(3, read.Outputs[0].Bytes);
        Assert.Equal(200, read.Phases[0].ImagesPerSecond);
        Assert.All(ManifestVerifier.Verify(path), r => Assert.Equal(ManifestVerifier.Status.Match, r.Status));

        File.WriteAllBytes(model, [1, 2, 4]);
        File.Delete(Path.Combine(data, "a.bin"));
        var results = ManifestVerifier.Verify(path);
        Assert.Equal(ManifestVerifier.Status.Missing, results.Single(r => r.Expected.Path.EndsWith("a.bin", StringComparison.Ordinal)).Status);
        Assert.Equal(ManifestVerifier.Status.Match, results.Single(r => r.Expected.Path.EndsWith("b.bin", StringComparison.Ordinal)).Status);
        Assert.Equal(ManifestVerifier.Status.Mismatch, results.Single(r => r.Expected.Role == "model").Status);
    }

    [Fact]
    public void NotAManifestIsOneLineNamingTheFile()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.json");
        File.WriteAllText(path, "{\"format\": \"something else\"}");
        var e = Assert.Throws<InvalidDataException>(() => RunManifestJson.Read(path));
        Assert.Contains(path, e.Message);
        File.WriteAllText(path, "{not json");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => RunManifestJson.Read(path)).Message);
    }
}
