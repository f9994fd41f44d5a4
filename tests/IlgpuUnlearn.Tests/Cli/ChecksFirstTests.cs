using IlgpuUnlearn.Model;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// Checks first: the weights file is read (format, network, classes, input channels) before the data, so a wrong
/// --weights fails in a second and not after the data is read (or downloaded); --data naming a file where the dataset
/// wants a folder is one line that says so.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class ChecksFirstTests(TinyCifarFiles files, ITestOutputHelper output)
{
    static readonly string Shipped = Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-demo");

    public static TheoryData<string> Cases => new()
    {
        "unlearn weights not a model", "eval weights not a model", "grey weights for cifar10", "fashion-mnist data is a file", "cifar10 data is a batch file",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedBeforeTheDataIsRead(string name)
    {
        string folder = files.NewFolder(name.Replace(' ', '-'));
        string broken = Path.Combine(folder, "broken.pth");
        File.WriteAllBytes(broken, [(byte)'P', (byte)'K', 3, 4, 0, 0]);
        string[] cifar = ["--data", files.DataFolder, "--forget-class", "3", "--device", "cpu"];
        (string[] Args, string[] Mentions) run = name switch
        {
            "unlearn weights not a model" => (["unlearn", "--weights", broken, .. cifar, "--out", Path.Combine(folder, "o.pth")], [broken]),
            "eval weights not a model" => (["eval", "--weights", broken, .. cifar], [broken]),
            "grey weights for cifar10" => (["eval", "--weights", GreyWeights(folder), .. cifar], ["grey.safetensors", "1-channel", "--dataset cifar10 holds 3-channel"]),
            "fashion-mnist data is a file" => (["eval", "--weights", files.Weights, "--dataset", "fashion-mnist", "--data",
                Path.Combine(Shipped, "train-images-idx3-ubyte.gz"), "--forget-class", "3", "--device", "cpu"], ["is a file", "names the folder", Shipped]),
            "cifar10 data is a batch file" => (["eval", "--weights", files.Weights, "--data", Path.Combine(files.DataFolder, "data_batch_1.bin"),
                "--forget-class", "3", "--device", "cpu"], ["data_batch_1.bin is a file but not a .tar.gz", files.DataFolder]),
            _ => throw new ArgumentException(name),
        };
        var result = CliProcess.Run(folder, run.Args);
        output.WriteLine(result.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain(result.StderrLines, l => l.StartsWith("data:", StringComparison.Ordinal));   // the data was never read
        string error = Assert.Single(result.StderrLines, l => l.StartsWith("ilgpu-unlearn:", StringComparison.Ordinal));
        Assert.StartsWith("ilgpu-unlearn: error: ", error, StringComparison.Ordinal);
        foreach (string m in run.Mentions) Assert.Contains(m, error, StringComparison.Ordinal);
    }

    /// <summary>A width-16 network whose conv1 reads one channel (a Fashion-MNIST model): the hashed narrow weights with conv1 cut to its first channel.</summary>
    string GreyWeights(string folder)
    {
        var tensors = WeightsFile.Load(files.NarrowWeights).Tensors;
        var conv1 = tensors["conv1.weight"];
        int width = conv1.Shape[0];
        float[] all = conv1.ToFloat32(), grey = new float[width * 9];
        for (int o = 0; o < width; o++) Array.Copy(all, o * conv1.Shape[1] * 9, grey, o * 9, 9);
        tensors.Set("conv1.weight", StoredTensor.FromFloat32(conv1.DType, [width, 1, 3, 3], grey));
        string path = Path.Combine(folder, "grey.safetensors");
        WeightsFile.Save(path, tensors);
        return path;
    }
}
