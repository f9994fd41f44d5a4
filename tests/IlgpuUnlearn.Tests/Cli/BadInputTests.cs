using System.Text.RegularExpressions;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// Each bad input given to the program (a child process) is refused: exit code 1 (2 for what the command-line parser
/// refuses), exactly one error line on stderr naming the file or option and what is wrong, no stack trace, nothing on
/// stdout, and no model, report or picture written (the folder holds only what the test put there).
/// </summary>
[Collection(CliCollection.Name)]
public sealed class BadInputTests(TinyCifarFiles files, ITestOutputHelper output)
{
    public static TheoryData<string> Cases => new()
    {
        "missing data folder", "batch file not whole records", "label byte 12", "truncated pth", "imagenet pth", "nan in weights", "diverging run",
        "forget class 11", "forget class banana", "augment foo", "lr -1", "batch size 0", "unknown device",
        "batch size banana", "unknown option", "eval truncated pth", "eval unknown device",
        // Checked before anything is loaded (and before any download).
        "out under a file", "json in an unwritable folder", "confusion jpg", "out is a folder", "class before data",
        "device before data", "gpu index that is not here", "limit below the class count", "max steps 0", "unknown dataset",
        "outputs before the download", "eval confusion jpg", "eval json under a file", "eval all", "several devices for one class",
        "download failed", "demo out under a file", "demo unknown device", "out folder that cannot be made",
        "method banana", "kd temperature with ft", "scrub alpha -1", "saliency threshold 2", "alpha with scrub", "lr with ssd",
        "method sccrub", "confusion jpg with out in a new folder",
    };

    /// <summary>The cases that must be refused before any data or weights are read.</summary>
    static readonly HashSet<string> BeforeLoading =
    [
        "forget class 11", "forget class banana", "augment foo", "lr -1", "batch size 0", "unknown device", "eval unknown device",
        "out under a file", "json in an unwritable folder", "confusion jpg", "out is a folder", "class before data",
        "device before data", "gpu index that is not here", "limit below the class count", "max steps 0", "unknown dataset",
        "outputs before the download", "eval confusion jpg", "eval json under a file", "eval all", "several devices for one class",
        "demo out under a file", "demo unknown device", "out folder that cannot be made",
        "method banana", "kd temperature with ft", "scrub alpha -1", "saliency threshold 2", "alpha with scrub", "lr with ssd",
        "method sccrub", "confusion jpg with out in a new folder",
    ];

    [Trait("Category", "Slow")]
    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedOnOneLineWithoutWritingAModel(string name)
    {
        string folder = files.NewFolder(name.Replace(' ', '-'));
        string outModel = Path.Combine(folder, "out.pth"), json = Path.Combine(folder, "report.json");
        var options = new Dictionary<string, string>
        {
            ["--forget-class"] = "3", ["--weights"] = files.Weights, ["--data"] = files.DataFolder, ["--augment"] = "none",
            ["--batch-size"] = "4", ["--device"] = "cpu", ["--out"] = outModel, ["--json"] = json,
        };
        string verb = "unlearn";
        int exitCode = 1;
        var environment = new Dictionary<string, string?>();
        var disposables = new List<IDisposable>();
        string[] mentions;
        switch (name)
        {
            case "missing data folder":
                options["--data"] = Path.Combine(folder, "no-such-folder");
                mentions = [options["--data"], "no such file or folder"];
                break;
            case "batch file not whole records":
            {
                options["--data"] = CopyOfData(folder);
                string file = Path.Combine(options["--data"], "data_batch_2.bin");
                using (var stream = new FileStream(file, FileMode.Append)) stream.Write(new byte[1000]);
                mentions = [file, "not a whole number of 3073-byte records"];
                break;
            }
            case "label byte 12":
            {
                options["--data"] = CopyOfData(folder);
                string file = Path.Combine(options["--data"], "data_batch_3.bin");
                var bytes = File.ReadAllBytes(file);
                bytes[Cifar10BinaryReader.RecordSize] = 12; // label of record 1
                File.WriteAllBytes(file, bytes);
                mentions = [file, "record 1 has label 12"];
                break;
            }
            case "truncated pth" or "eval truncated pth":
            {
                string file = Path.Combine(folder, "truncated.pth");
                var bytes = File.ReadAllBytes(files.Weights);
                File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);
                options["--weights"] = file;
                mentions = [file];
                if (name.StartsWith("eval", StringComparison.Ordinal)) verb = "eval";
                break;
            }
            case "imagenet pth":
                options["--weights"] = ImageNetStyleWeights(folder);
                mentions = [options["--weights"], "ImageNet", "7x7"];
                break;
            case "nan in weights":
            {
                var state = files.Initial.ToDictionary(kv => kv.Key, kv => (float[])kv.Value.Clone());
                state["conv1.weight"][5] = float.NaN;
                options["--weights"] = Path.Combine(folder, "nan.pth");
                WeightsFile.Save(options["--weights"], TinyCifarFiles.StateDictOf(state));
                mentions = [options["--weights"], "conv1.weight", "NaN"];
                break;
            }
            case "diverging run":
                options["--lr"] = "1e30";
                options["--clip"] = "0";
                mentions = ["step 2", "loss", "without writing a model"];
                break;
            case "forget class 11":
                options["--forget-class"] = "11";
                mentions = ["--forget-class 11", "outside 0..9"];
                break;
            case "forget class banana":
                options["--forget-class"] = "banana";
                mentions = ["--forget-class 'banana'", "not a class"];
                break;
            case "augment foo":
                options["--augment"] = "foo";
                mentions = ["--augment 'foo'", "crop-flip or none"];
                break;
            case "lr -1":
                options["--lr"] = "-1";
                mentions = ["--lr", "must be > 0", "-1"];
                break;
            case "batch size 0":
                options["--batch-size"] = "0";
                mentions = ["--batch-size", "at least 1", "0"];
                break;
            case "unknown device" or "eval unknown device" or "demo unknown device":
                options["--device"] = "tpu";
                mentions = ["--device 'tpu'", "cuda, cuda:N (N from 0), cpu or ilgpu-cpu"];
                if (name.StartsWith("eval", StringComparison.Ordinal)) verb = "eval";
                if (name.StartsWith("demo", StringComparison.Ordinal)) verb = "demo";
                break;
            case "out under a file" or "eval json under a file" or "demo out under a file":
            {
                string file = Path.Combine(folder, "a-file");
                File.WriteAllText(file, "not a folder");
                string option = name.StartsWith("eval", StringComparison.Ordinal) ? "--json" : "--out";
                options[option] = Path.Combine(file, name.StartsWith("demo", StringComparison.Ordinal) ? "demo" : "x.pth");
                mentions = [$"{option} {options[option]}", $"{file} is a file, not a folder"];
                if (name.StartsWith("eval", StringComparison.Ordinal)) verb = "eval";
                if (name.StartsWith("demo", StringComparison.Ordinal)) verb = "demo";
                break;
            }
            case "json in an unwritable folder":
                // /proc takes no new files, not even from root: the tests may run as root, for whom chmod is no barrier.
                options["--json"] = "/proc/report.json";
                mentions = ["--json /proc/report.json", "cannot write into /proc"];
                break;
            case "out folder that cannot be made":
                // No folder can be made in /proc, not even by root; the reason in a few words, not .NET's sentence.
                options["--out"] = "/proc/x/y.pth";
                mentions = ["--out /proc/x/y.pth: cannot create the folder /proc/x (cannot write into /proc"];
                break;
            case "confusion jpg with out in a new folder":
                // Refused after --out's check: the checks come before any folder is made, so no empty new/ is left behind.
                options["--out"] = Path.Combine(folder, "new", "a.pth");
                options["--confusion"] = Path.Combine(folder, "x.jpg");
                mentions = [$"--confusion {options["--confusion"]}", ".svg or .png"];
                break;
            case "confusion jpg" or "eval confusion jpg":
                options["--confusion"] = Path.Combine(folder, "x.jpg");
                mentions = [$"--confusion {options["--confusion"]}", ".svg or .png"];
                if (name.StartsWith("eval", StringComparison.Ordinal)) verb = "eval";
                break;
            case "out is a folder":
                options["--out"] = Directory.CreateDirectory(Path.Combine(folder, "models")).FullName;
                mentions = [$"--out {options["--out"]} is a folder"];
                break;
            case "class before data":
                options["--forget-class"] = "banana";
                options["--data"] = Path.Combine(folder, "no-such-folder");
                mentions = ["--forget-class 'banana'"];
                break;
            case "device before data":
                options["--device"] = "cuda:x";
                options["--data"] = Path.Combine(folder, "no-such-folder");
                mentions = ["--device 'cuda:x'"];
                break;
            case "gpu index that is not here":
                options["--device"] = "cuda:99";
                mentions = ["--device cuda:99", Devices.CudaDeviceCount() == 0 ? "no CUDA GPU found" : "there"];
                break;
            case "limit below the class count":
                options["--limit"] = "5";
                mentions = ["--limit must be at least 10", "5"];
                break;
            case "method banana":
                options["--method"] = "banana";
                mentions = ["--method 'banana'", "advneggrad, ft, ga, rl, salun, scrub"];
                break;
            case "method sccrub":
                options["--method"] = "sccrub";
                mentions = ["--method 'sccrub'", "did you mean scrub?"];
                break;
            case "kd temperature with ft":
                options["--method"] = "ft";
                options["--kd-temperature"] = "3";
                mentions = ["--kd-temperature applies to --method scrub only, not ft"];
                break;
            case "scrub alpha -1":
                options["--method"] = "scrub";
                options["--scrub-alpha"] = "-1";
                mentions = ["--scrub-alpha must be >= 0, got -1"];
                break;
            case "saliency threshold 2":
                options["--method"] = "salun";
                options["--saliency-threshold"] = "2";
                mentions = ["--saliency-threshold must be in [0, 1], got 2"];
                break;
            case "alpha with scrub":
                options["--method"] = "scrub";
                options["--alpha"] = "0.3";
                mentions = ["--alpha applies to --method advneggrad or neggrad+ only, not scrub"];
                break;
            case "lr with ssd":
                options["--method"] = "ssd";
                options["--lr"] = "0.1";
                mentions = ["--lr does not apply to --method ssd: ssd takes no optimiser step"];
                break;
            case "max steps 0":
                options["--max-steps"] = "0";
                mentions = ["--max-steps must be at least 1, got 0"];
                break;
            case "unknown dataset":
                options["--dataset"] = "imagenet";
                mentions = ["--dataset 'imagenet'", "cifar10, fashion-mnist or synthetic"];
                break;
            case "outputs before the download":
                // No --data and no --weights: the run would download 200 MB first; a bad output location is found before.
                options.Remove("--data");
                options.Remove("--weights");
                options["--confusion"] = Path.Combine(folder, "x.gif");
                mentions = ["--confusion", ".svg or .png"];
                break;
            case "eval all":
                options["--forget-class"] = "all";
                mentions = ["--forget-class all", "one class"];
                verb = "eval";
                break;
            case "several devices for one class":
                options["--device"] = "cpu,cpu";
                mentions = ["--device cpu,cpu", "--forget-class all"];
                break;
            case "download failed":
            {
                // CIFAR-10 from a mirror that answers 404: the error says how to go on without the network.
                options.Remove("--data");
                var server = new Download.LocalHttpServer();
                disposables.Add(server);
                environment["ILGPU_UNLEARN_MIRROR"] = server.BaseAddress.ToString();
                mentions = ["download failed", "HTTP 404", "--data cifar-10-binary.tar.gz", "ILGPU_UNLEARN_MIRROR"];
                break;
            }
            case "batch size banana":
                options["--batch-size"] = "banana";
                mentions = ["--batch-size banana: expected a whole number", "--help"];
                exitCode = 2;
                break;
            case "unknown option":
                options["--frobnicate"] = "1";
                mentions = ["unknown option --frobnicate", "--help"];
                exitCode = 2;
                break;
            default:
                throw new ArgumentException(name);
        }
        if (verb == "eval")
        {
            foreach (var unlearnOnly in new[] { "--augment", "--batch-size", "--out" }) options.Remove(unlearnOnly);
            options.TryAdd("--confusion", Path.Combine(folder, "confusion.svg"));
        }
        if (verb == "demo")
        {
            options = options.Where(kv => kv.Key is "--device" or "--out").ToDictionary();
            options.TryAdd("--out", Path.Combine(folder, "demo"));
        }
        var before = Listing(folder);
        var foldersBefore = Folders(folder);
        var args = new List<string> { verb };
        if (verb == "unlearn") args.Add("--no-shuffle");
        foreach (var (option, value) in options) args.AddRange([option, value]);

        var result = CliProcess.RunWith(environment, folder, [.. args]);
        foreach (var d in disposables) d.Dispose();
        output.WriteLine(result.ToString());
        if (BeforeLoading.Contains(name))
        {
            Assert.DoesNotContain(result.StderrLines, l => l.StartsWith("data:", StringComparison.Ordinal) || l.StartsWith("weights:", StringComparison.Ordinal)
                || l.StartsWith("downloading", StringComparison.Ordinal) || l.StartsWith("device:", StringComparison.Ordinal));
        }
        Assert.DoesNotContain("(Parameter '", result.Stderr, StringComparison.Ordinal);

        Assert.True(result.ExitCode == exitCode, $"expected exit code {exitCode}: {result}");
        // Nothing on stdout but, for a run that fails while unlearning, the base model's figures (printed before unlearning).
        Assert.True(result.Stdout.Trim().Length == 0 || (name == "diverging run" && result.Stdout.TrimStart().StartsWith("base model, before unlearning:", StringComparison.Ordinal)
            && !result.Stdout.Contains("unlearned", StringComparison.Ordinal)), result.Stdout);
        var errors = result.StderrLines.Where(l => l.StartsWith("ilgpu-unlearn:", StringComparison.Ordinal)).ToArray();
        var error = Assert.Single(errors);
        Assert.StartsWith("ilgpu-unlearn: error: ", error, StringComparison.Ordinal);
        foreach (var m in mentions) Assert.Contains(m, error, StringComparison.Ordinal);
        Assert.DoesNotContain(result.StderrLines, l => Regex.IsMatch(l, @"^\s+at \S") || l.Contains("Exception", StringComparison.Ordinal));
        // Nothing written: no model, report, picture or temporary file. (The outputs cache under cache/, which CliProcess
        // points XDG_CACHE_HOME at, may keep the base model's outputs: the forward pass before the failure was sound.)
        Assert.Equal(before, Listing(folder).Where(f => !f.StartsWith("cache/ilgpu-unlearn/outputs/", StringComparison.Ordinal)).ToArray());
        // No folder made either (an output's missing folder is created only once every check has passed).
        Assert.Equal(foldersBefore, Folders(folder));
    }

    /// <summary>The folders under <paramref name="root"/> (relative, sorted), the cache CliProcess points XDG_CACHE_HOME at left out.</summary>
    static string[] Folders(string root) =>
        [.. Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Select(d => Path.GetRelativePath(root, d).Replace('\\', '/'))
            .Where(d => d != "cache" && !d.StartsWith("cache/", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    string CopyOfData(string folder)
    {
        string data = Path.Combine(folder, Cifar10BinaryReader.FolderName);
        files.WriteData(data);
        return data;
    }

    /// <summary>The start of a torchvision ImageNet ResNet18: 7x7 stem of 64 filters, 1000-class head.</summary>
    static string ImageNetStyleWeights(string folder)
    {
        var state = new StateDict();
        state.Set("conv1.weight", StoredTensor.FromFloat32(TensorDType.Float32, [64, 3, 7, 7], new float[64 * 3 * 7 * 7]));
        foreach (var stat in new[] { "weight", "bias", "running_mean", "running_var" })
            state.Set("bn1." + stat, StoredTensor.FromFloat32(TensorDType.Float32, [64], new float[64]));
        state.Set("bn1.num_batches_tracked", StoredTensor.FromInt64(TensorDType.Int64, [], [0]));
        state.Set("fc.weight", StoredTensor.FromFloat32(TensorDType.Float32, [1000, 512], new float[1000 * 512]));
        state.Set("fc.bias", StoredTensor.FromFloat32(TensorDType.Float32, [1000], new float[1000]));
        string path = Path.Combine(folder, "resnet18_imagenet.pth");
        WeightsFile.Save(path, state);
        return path;
    }

    /// <summary>Every file under the folder (relative path and size).</summary>
    static string[] Listing(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => $"{Path.GetRelativePath(folder, f)} {new FileInfo(f).Length}").Order(StringComparer.Ordinal).ToArray();
}
