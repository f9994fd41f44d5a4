using CommandLine;
using IlgpuUnlearn.Manifest;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("verify", HelpText = "Re-hash every file a run manifest names (inputs: weights, data, retrained model; outputs: model, report, picture) and say whether each matches. Exit 0 when all match, 1 otherwise.")]
public sealed class VerifyOptions
{
    [Value(0, MetaName = "MANIFEST", Required = true, HelpText = "A manifest written by unlearn (<model>.manifest.json).")]
    public string Manifest { get; set; } = "";
}

internal static class VerifyCommand
{
    public static int Run(VerifyOptions o)
    {
        if (!File.Exists(o.Manifest)) throw new UserError($"{o.Manifest}: no such manifest");
        var results = ManifestVerifier.Verify(o.Manifest);
        foreach (var r in results)
        {
            string status = r.Status switch
            {
                ManifestVerifier.Status.Match => "ok      ",
                ManifestVerifier.Status.Mismatch => "MISMATCH",
                _ => "MISSING ",
            };
            Console.WriteLine($"{status} {r.Expected.Role,-10} {r.Expected.Path}" + (r.Status == ManifestVerifier.Status.Mismatch ? $" (sha256 {r.ActualSha256}, manifest {r.Expected.Sha256})" : ""));
        }
        int bad = results.Count(r => r.Status != ManifestVerifier.Status.Match);
        Console.WriteLine(bad == 0 ? $"all {results.Count} files match the manifest" : $"{bad} of {results.Count} files do not match the manifest");
        return bad == 0 ? 0 : 1;
    }
}
