using System.Runtime.InteropServices;
using IlgpuUnlearn.Weights.Commands;

namespace IlgpuUnlearn.Weights.Tests;

/// <summary>
/// convert loses nothing unasked: it refuses to write over its input (the same path, a symbolic link or a hard link to it),
/// refuses an existing output without --force, checks it can write before it reads, and names what of a training
/// checkpoint the output leaves out.
/// </summary>
public sealed class ConvertSafetyTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "ilgpu-unlearn-convert-" + Guid.NewGuid().ToString("N"));

    public ConvertSafetyTests() => Directory.CreateDirectory(folder);

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = WeightsCommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A copy of the training checkpoint fixture (state dict under 'model_state_dict', epoch, optimizer, best_acc, ...).</summary>
    string Checkpoint()
    {
        string path = Path.Combine(folder, "ckpt.pth");
        File.Copy(TestFiles.Fixture("checkpoints/w2_checkpoint_legacy_p4.pth"), path);
        return path;
    }

    [Fact]
    public void RefusesToWriteOverItsInputByPathSymbolicLinkOrHardLink()
    {
        string input = Checkpoint();
        byte[] before = File.ReadAllBytes(input);
        string symbolic = Path.Combine(folder, "symbolic.pth"), hard = Path.Combine(folder, "hard.pth");
        File.CreateSymbolicLink(symbolic, input);
        Assert.Equal(0, Link(input, hard));
        foreach (string output in new[] { input, Path.Combine(folder, ".", "ckpt.pth"), symbolic, hard })
        {
            foreach (string[] args in new[] { new[] { "convert", input, output }, new[] { "convert", input, output, "--force" } })
            {
                var (code, _, error) = Run(args);
                Assert.Equal(WeightsCommandLine.FileError, code);
                Assert.Contains("is the input file itself", error, StringComparison.Ordinal);
                Assert.Single(error.TrimEnd().Split('\n'));
            }
        }
        Assert.Equal(before, File.ReadAllBytes(input));   // the checkpoint is untouched
        Assert.False(FileIdentity.Same(input, TestFiles.Fixture("checkpoints/w2_checkpoint_legacy_p4.pth")));   // equal bytes, another file
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);

    [Fact]
    public void AnExistingOutputNeedsForceAndIsNamedWhenReplaced()
    {
        string input = Checkpoint(), output = Path.Combine(folder, "out.safetensors");
        File.WriteAllText(output, "precious");
        var (code, _, error) = Run("convert", input, output);
        Assert.Equal(WeightsCommandLine.FileError, code);
        Assert.Contains($"{output} exists: add --force", error, StringComparison.Ordinal);
        Assert.Equal("precious", File.ReadAllText(output));

        (code, _, error) = Run("convert", input, output, "--force");
        Assert.Equal(WeightsCommandLine.Success, code);
        Assert.Contains($"note: replaced {output} (--force)", error, StringComparison.Ordinal);
        Assert.NotEmpty(WeightsFile.Load(output).Tensors);
    }

    [Fact]
    public void SaysWhatOfTheCheckpointTheOutputLeavesOut()
    {
        string input = Checkpoint(), output = Path.Combine(folder, "out.pth");
        var (code, _, error) = Run("convert", input, output);
        Assert.Equal(WeightsCommandLine.Success, code);
        string note = Assert.Single(error.Split('\n'), l => l.StartsWith("note: ", StringComparison.Ordinal));
        Assert.StartsWith($"note: {output} holds the state dict only; left out of {input}: epoch, optimizer_state_dict", note, StringComparison.Ordinal);
        foreach (string entry in new[] { "scheduler_state_dict", "rng_state", "best_acc", "history" }) Assert.Contains(entry, note, StringComparison.Ordinal);
        Assert.DoesNotContain("model_state_dict", note, StringComparison.Ordinal);

        // A bare state dict loses nothing: no note.
        (code, _, error) = Run("convert", output, Path.Combine(folder, "again.safetensors"));
        Assert.Equal(WeightsCommandLine.Success, code);
        Assert.DoesNotContain("note:", error, StringComparison.Ordinal);
    }

    /// <summary>An output that cannot be written (its folder is missing) fails before the input is read: a broken input is not even opened.</summary>
    [Fact]
    public void ChecksItCanWriteBeforeItReads()
    {
        string broken = Path.Combine(folder, "broken.pth");
        File.WriteAllBytes(broken, [1, 2, 3]);
        string output = Path.Combine(folder, "missing", "out.pth");
        var (code, _, error) = Run("convert", broken, output);
        Assert.Equal(WeightsCommandLine.FileError, code);
        Assert.Contains($"{output}: the folder", error, StringComparison.Ordinal);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);
        Assert.DoesNotContain("broken.pth", error, StringComparison.Ordinal);   // the input's problem was never reached
    }
}
