using System.Text.RegularExpressions;
using IlgpuUnlearn.Cli.Commands;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// The program (a child process) on the Fashion-MNIST subset shipped with it (data/fashion-mnist-demo/, copied next to the
/// program): the demo trains and unlearns on the real images with a grey (1-channel, 28x28) network, eval reads such a
/// network natively with its own normalisation, a colour network reads the same images padded to 3x32x32, and data or
/// options the model cannot use are refused on one line before any work. Tiny settings (width 2, 20 images per class).
/// </summary>
[Collection(CliCollection.Name)]
public sealed class FashionMnistCliTests(TinyCifarFiles files, ITestOutputHelper output)
{
    static readonly string Shipped = Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-demo");

    sealed record Demo(CliResult Result, string Folder, string BaseModel);

    Demo GreyDemo() => files.Once("fashion-mnist demo", () => RunDemo("fashion-mnist", "fashion-mnist_resnet18_base.pth"));

    Demo ColourDemo() => files.Once("synthetic demo", () => RunDemo("synthetic", "synthetic_resnet18_base.pth"));

    Demo RunDemo(string dataset, string baseModel)
    {
        string folder = files.NewFolder("demo-" + dataset);
        var result = CliProcess.Run(folder, "demo", "--dataset", dataset, "--width", "2", "--train-epochs", "1", "--train-per-class", "20",
            "--test-per-class", "10", "--batch-size", "50", "--device", "cpu", "--out", "out");
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        return new Demo(result, folder, Path.Combine(folder, "out", baseModel));
    }

    CliResult Eval(string folder, string weights, string data, params string[] more)
    {
        var result = CliProcess.Run(folder, ["eval", "--weights", weights, "--dataset", "fashion-mnist", "--data", data, "--forget-class", "3",
            "--device", "cpu", .. more]);
        output.WriteLine(result.ToString());
        return result;
    }

    [Fact]
    public void TheShippedSubsetIsThereWithItsLicence()
    {
        foreach (var name in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
            Assert.True(File.Exists(Path.Combine(Shipped, name)), name);
        Assert.Contains("Copyright (c) 2017 Zalando SE", File.ReadAllText(Path.Combine(Shipped, "LICENSE")), StringComparison.Ordinal);
        long bytes = Directory.GetFiles(Shipped).Sum(f => new FileInfo(f).Length);
        Assert.InRange(bytes, 100_000, 4_000_000);   // a few MB at most
    }

    [Fact]
    public void DemoTrainsAGreyNetworkOnTheShippedImagesAndUnlearnsOneClass()
    {
        var demo = GreyDemo();
        Assert.Contains("fashion-mnist train: 200 images of 1x28x28, 10 classes", demo.Result.Stderr, StringComparison.Ordinal);
        Assert.Contains("normalisation: fashion-mnist: mean (0.286), std (0.353)", demo.Result.Stderr, StringComparison.Ordinal);
        // The card's table, before and after, for class 3 (Dress).
        Assert.Matches(@"\| fashion-mnist_resnet18_base\.pth \| Dress \| \d+\.\d+ \(\d+\.\d{3}\) \| \d+\.\d+ \(\d+\.\d{3}\) \|", demo.Result.Stdout);
        Assert.Matches(@"\| fashion-mnist_resnet18_AdvNegGrad_3\.pth \| Dress \| [\d.]+ \(\d+\.\d{3}\) \| [\d.]+ \(\d+\.\d{3}\) \|", demo.Result.Stdout);
        // The unlearned model's row once: in the before-and-after table, not again above its per-class figures.
        Assert.Single(demo.Result.Stdout.Split('\n'), l => l.StartsWith("| fashion-mnist_resnet18_AdvNegGrad_3.pth | Dress |", StringComparison.Ordinal));
        foreach (var file in new[] { "fashion-mnist_resnet18_AdvNegGrad_3.pth", "fashion-mnist_resnet18_AdvNegGrad_3.card.json", "fashion-mnist_resnet18_AdvNegGrad_3.report.json",
            "fashion-mnist_resnet18_AdvNegGrad_3.confusion.svg", "fashion-mnist_resnet18_AdvNegGrad_3.confusion.png" })
            Assert.True(File.Exists(Path.Combine(demo.Folder, "out", file)), file);
        var conv1 = WeightsFile.Load(demo.BaseModel).Tensors["conv1.weight"];
        Assert.Equal(new[] { 2, 1, 3, 3 }, conv1.Shape);
    }

    /// <summary>
    /// Retain classes that collapsed are named under the before-and-after table, whose retain column (a mean) hides them;
    /// on the synthetic shapes, with the reason. None collapsed: nothing is said.
    /// </summary>
    [Fact]
    public void TheCollapseNoteNamesEachCollapsedRetainClass()
    {
        CollapsedClass[] collapsed = [new(2, "diagonal", 100, 44, 56), new(7, "ring", 98, 0, 98)];
        var synthetic = DemoCommand.CollapseNote(collapsed, 10, 9, IlgpuUnlearn.Data.DatasetKind.Synthetic);
        Assert.Equal(2, synthetic.Count);
        Assert.Equal("WARNING: unlearning collapsed 2 of the 9 retain classes (test accuracy more than 10 points below the base model's): " +
            "diagonal 44.0% (base 100.0%), ring 0.0% (base 98.0%); the retain accuracy in the table is the mean over all 9.", synthetic[0]);
        Assert.Contains("BatchNorm", synthetic[1], StringComparison.Ordinal);
        var grey = DemoCommand.CollapseNote(collapsed, 10, 9, IlgpuUnlearn.Data.DatasetKind.FashionMnist);
        Assert.Equal([synthetic[0]], grey);
        Assert.Empty(DemoCommand.CollapseNote([], 10, 9, IlgpuUnlearn.Data.DatasetKind.Synthetic));
    }

    /// <summary>Each demo prints the note its own run report calls for, right under the before-and-after table.</summary>
    [Theory]
    [InlineData("fashion-mnist")]
    [InlineData("synthetic")]
    public void TheDemoSaysUnderItsTableWhichRetainClassesCollapsed(string dataset)
    {
        var demo = dataset == "synthetic" ? ColourDemo() : GreyDemo();
        string report = Path.Combine(demo.Folder, "out", $"{dataset}_resnet18_AdvNegGrad_3.report.json");
        var run = Assert.Single(IlgpuUnlearn.Evaluation.RunReportJson.ReadAll(report));
        var kind = dataset == "synthetic" ? IlgpuUnlearn.Data.DatasetKind.Synthetic : IlgpuUnlearn.Data.DatasetKind.FashionMnist;
        var note = DemoCommand.CollapseNote(run.CollapsedClasses, run.CollapseThreshold, 9, kind);
        var stdout = demo.Result.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int tableEnd = stdout.FindIndex(l => l.StartsWith($"| {dataset}_resnet18_AdvNegGrad_3.pth |", StringComparison.Ordinal));
        Assert.True(tableEnd > 0, demo.Result.Stdout);
        Assert.Equal(note, stdout.Skip(tableEnd + 1).SkipWhile(l => l.Length == 0).Take(note.Count));
        Assert.Equal(note.Count > 0, demo.Result.Stdout.Contains("WARNING: unlearning collapsed", StringComparison.Ordinal));
    }

    /// <summary>The demo's run report carries what README says every report has: the unlearning metrics and both attacks, for the base and the unlearned model.</summary>
    [Fact]
    public void TheDemosRunReportHasTheAttackFigures()
    {
        var demo = GreyDemo();
        string path = Path.Combine(demo.Folder, "out", "fashion-mnist_resnet18_AdvNegGrad_3.report.json");
        var report = Assert.Single(IlgpuUnlearn.Evaluation.RunReportJson.ReadAll(path));
        Assert.Equal(3, report.ForgetClass);
        Assert.Equal(IlgpuUnlearn.Manifest.FileDigest.Sha256(demo.BaseModel), report.Base!.Sha256);
        foreach (var evaluation in new[] { report.Evaluation, report.Base! })
            foreach (var metric in new[] { "UA", "RA", "TUA", "TRA", "SalUn_UA", "SalUn_RA", "SalUn_TA", "MIA_efficacy", "loss_MIA" })
                Assert.True(double.IsFinite(evaluation.Metrics[metric].Value), $"{evaluation.Role} {metric}");
        Assert.Contains("| MIA_efficacy | SalUn |", demo.Result.Stdout, StringComparison.Ordinal);
        Assert.Contains("| loss_MIA |", demo.Result.Stdout, StringComparison.Ordinal);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void EvalReadsAGreyNetworkNativelyWithItsOwnNormalisation()
    {
        var demo = GreyDemo();
        string folder = files.NewFolder("eval-grey");
        string byDefault = Path.Combine(folder, "default.json"), byNumbers = Path.Combine(folder, "numbers.json"), none = Path.Combine(folder, "none.json");

        var result = Eval(folder, demo.BaseModel, Shipped, "--json", byDefault);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("fashion-mnist test: 1000 images of 1x28x28", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("1-channel input", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("normalisation: fashion-mnist: mean (0.286), std (0.353)", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("padded", result.Stderr, StringComparison.Ordinal);

        // The preset's numbers given by hand are the preset; another normalisation changes what the model predicts.
        Assert.Equal(0, Eval(folder, demo.BaseModel, Shipped, "--json", byNumbers, "--mean", "0.2860", "--std", "0.3530").ExitCode);
        Assert.Equal(File.ReadAllText(byDefault), File.ReadAllText(byNumbers));
        var noneResult = Eval(folder, demo.BaseModel, Shipped, "--json", none, "--mean", "none");
        Assert.Equal(0, noneResult.ExitCode);
        Assert.Contains("normalisation: none: mean (0.0), std (1.0) (ToTensor only", noneResult.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(File.ReadAllText(byDefault), File.ReadAllText(none));
    }

    [Fact]
    public void AColourNetworkReadsTheGreyImagesPaddedTo32()
    {
        var demo = ColourDemo();
        string folder = files.NewFolder("eval-colour");
        var result = Eval(folder, demo.BaseModel, Shipped);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("grey images padded to 3x32x32", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("normalisation: cifar10: mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.201)", result.Stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string> Refusals => new()
    {
        "no weights for fashion-mnist", "grey model on colour data", "three-channel normalisation for a grey model",
        "three custom values for a grey model", "mean without std",
        "std of zero", "unknown preset", "unknown figure below the logits",
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void IsRefusedOnOneLineBeforeAnyWork(string name)
    {
        string folder = files.NewFolder(name.Replace(' ', '-'));
        string greyModel = GreyDemo().BaseModel;
        string json = Path.Combine(folder, "report.json");
        string[] args;
        string[] mentions;
        switch (name)
        {
            case "no weights for fashion-mnist":
                args = ["unlearn", "--dataset", "fashion-mnist", "--data", Shipped, "--forget-class", "3", "--device", "cpu", "--json", json];
                mentions = ["--dataset fashion-mnist", "needs --weights (or `train` one"];
                break;
            case "grey model on colour data":
                args = ["eval", "--weights", greyModel, "--dataset", "synthetic", "--forget-class", "3", "--device", "cpu", "--json", json];
                mentions = ["the model reads 1-channel images", "conv1.weight is 2x1x3x3", "3-channel"];
                break;
            case "three-channel normalisation for a grey model":
                args = EvalArgs("--mean", "cifar10");
                mentions = ["--mean cifar10: 3 values per statistic", $"--weights {greyModel} reads 1-channel images", "conv1.weight is 2x1x3x3",
                    "give 1 value to --mean and --std", "fashion-mnist, mnist, half, none"];
                break;
            case "three custom values for a grey model":
                // unlearn as well as eval; numbers as well as a preset.
                args = ["unlearn", "--weights", greyModel, "--dataset", "fashion-mnist", "--data", Shipped, "--forget-class", "3", "--device", "cpu",
                    "--json", json, "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25"];
                mentions = ["--mean 0.5,0.5,0.5 --std 0.25,0.25,0.25: 3 values per statistic", "reads 1-channel images", "give 1 value"];
                break;
            case "mean without std":
                args = EvalArgs("--mean", "0.5");
                mentions = ["--std is missing"];
                break;
            case "std of zero":
                args = EvalArgs("--mean", "0.5", "--std", "0");
                mentions = ["--std 0 is outside (0, 1]"];
                break;
            case "unknown preset":
                args = EvalArgs("--mean", "cifar100");
                mentions = ["--mean 'cifar100'", "neither a number nor a preset", "fashion-mnist"];
                break;
            case "unknown figure below the logits":
                args = EvalArgs("--below-logits", "probe,svd");
                mentions = ["--below-logits probe,svd", "'svd' is not one of probe, relearn, cka"];
                break;
            default:
                throw new ArgumentException(name);
        }
        var result = CliProcess.Run(folder, args);
        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("", result.Stdout.Trim());
        var error = Assert.Single(result.StderrLines, l => l.StartsWith("ilgpu-unlearn:", StringComparison.Ordinal));
        Assert.StartsWith("ilgpu-unlearn: error: ", error, StringComparison.Ordinal);
        foreach (var m in mentions) Assert.Contains(m, error, StringComparison.Ordinal);
        Assert.DoesNotContain(result.StderrLines, l => Regex.IsMatch(l, @"^\s+at \S") || l.Contains("Exception", StringComparison.Ordinal));
        Assert.False(File.Exists(json));
        Assert.False(Directory.Exists(Path.Combine(folder, "cache")), "nothing was downloaded");
        // Before any work: the data was never read (its "data:" line comes first when it is).
        Assert.DoesNotContain(result.StderrLines, l => l.StartsWith("data:", StringComparison.Ordinal));

        string[] EvalArgs(params string[] more) =>
            ["eval", "--weights", greyModel, "--dataset", "fashion-mnist", "--data", Shipped, "--forget-class", "3", "--device", "cpu", "--json", json, .. more];
    }

    /// <summary>
    /// eval with the same grey model as the judged, base and retrained model: the report carries a probe and a relearn time
    /// per model, CKA 1 at every stage of every pair (a model against itself), and a verdict of "close to retraining".
    /// </summary>
    [Fact]
    public void EvalReportsTheFiguresBelowTheLogitsAndTheVerdict()
    {
        var demo = GreyDemo();
        string folder = files.NewFolder("eval-below-logits");
        string json = Path.Combine(folder, "run.json");
        var result = Eval(folder, demo.BaseModel, Shipped, "--base", demo.BaseModel, "--retrained", demo.BaseModel, "--report-json", json,
            "--bootstrap", "0");
        Assert.True(result.ExitCode == 0, result.ToString());
        var report = IlgpuUnlearn.Evaluation.RunReportJson.ReadAll(json)[0];
        string sha256 = IlgpuUnlearn.Manifest.FileDigest.Sha256(demo.BaseModel);
        foreach (var m in new[] { report.Evaluation, report.Base!, report.Retrained! })
        {
            Assert.Equal(sha256, m.Sha256);   // each model file's content, which `report` counts base and retrained models by
            Assert.NotNull(m.LinearProbe);
            Assert.NotNull(m.Relearn);
            Assert.Equal(2, m.Cka!.Length);
            foreach (var pair in m.Cka)
                foreach (var split in new[] { "train-forget", "train-other", "test-forget", "test-other" })
                    foreach (var v in pair.Of(split).Where(v => v is not null))
                        Assert.Equal(1.0, v!.Value, 5); // fp32 Gram matrices of the same outputs
        }
        // The same model everywhere: the probes agree, the relearn target (half the base's accuracy) is met at once.
        Assert.Equal(report.Base!.LinearProbe!.ForgetAccuracy, report.Evaluation.LinearProbe!.ForgetAccuracy);
        Assert.Equal(0, report.Evaluation.Relearn!.Steps);
        // Each model's SVC attack is recorded with its balanced accuracy on its fitting data, the same for the same outputs.
        Assert.InRange(report.Evaluation.MiaAttackBalancedAccuracy!.Value, 0, 100);
        Assert.Equal(report.Evaluation.MiaAttackBalancedAccuracy, report.Retrained!.MiaAttackBalancedAccuracy);
        Assert.StartsWith("close to retraining", report.Evaluation.Verdict!.Line, StringComparison.Ordinal);
        Assert.Null(report.Retrained!.Verdict);
        Assert.Contains("| evaluated / base | test-other |", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("verdict, evaluated model (against the retrained model; far: 5 points, forget loss 2x): close to retraining", result.Stdout, StringComparison.Ordinal);
        // Off a terminal the SVC attack's progress ends with the iterations it took, not only its first line ("0 SMO iterations").
        Assert.Contains(result.StderrLines, l => System.Text.RegularExpressions.Regex.Match(l, @"^metrics of the evaluated model: SVC attack, ([\d,]+) SMO iterations") is { Success: true } m
            && int.Parse(m.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) > 0);

        var none = Eval(files.NewFolder("eval-below-none"), demo.BaseModel, Shipped, "--below-logits", "none", "--bootstrap", "0");
        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.DoesNotContain("linear probe", none.Stdout, StringComparison.Ordinal);
        Assert.Contains("verdict, evaluated model", none.Stdout, StringComparison.Ordinal);
        Assert.Contains("not judged against retraining", none.Stdout, StringComparison.Ordinal);
    }
}
