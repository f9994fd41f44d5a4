using System.Diagnostics;
using CommandLine;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("demo", isDefault: false, HelpText = "The whole job on built-in data, no download, no GPU needed: make a synthetic 10-class image set, train a narrow ResNet18 on it, unlearn one class, report.")]
public sealed class DemoOptions
{
    [Option("forget-class", Default = "3", HelpText = "The class to forget (0-9 or a name).")]
    public string ForgetClass { get; set; } = "3";

    [Option("out", Default = "ilgpu-unlearn-demo", HelpText = "Folder for the base and unlearned models, the report and the confusion-matrix pictures.")]
    public string Out { get; set; } = "ilgpu-unlearn-demo";

    [Option("width", Default = 16, HelpText = "Base width of the ResNet18 (64 is the card's network).")]
    public int Width { get; set; }

    [Option("train-per-class", Default = 200, HelpText = "Synthetic training images per class.")]
    public int TrainPerClass { get; set; }

    [Option("test-per-class", Default = 50, HelpText = "Synthetic test images per class.")]
    public int TestPerClass { get; set; }

    [Option("train-epochs", Default = 4, HelpText = "Epochs of ordinary training that make the base model.")]
    public int TrainEpochs { get; set; }

    [Option("batch-size", Default = 250, HelpText = "Retain images per unlearning step (the card's 2500 scaled to the smaller set).")]
    public int BatchSize { get; set; }

    [Option("seed", Default = 1, HelpText = "Seed of the data, the initialisation and the shuffles.")]
    public int Seed { get; set; }

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }
}

internal static class DemoCommand
{
    public static int Run(DemoOptions o)
    {
        // Every check first: sizes, the class name, the device, the output folder (created) and every file in it.
        if (o.Width < 1 || o.TrainPerClass < 1 || o.TestPerClass < 1 || o.TrainEpochs < 0 || o.BatchSize < 1)
            throw new UserError("--width, --train-per-class, --test-per-class and --batch-size must be at least 1, --train-epochs at least 0");
        int k = PlanChecks.ForgetClasses(o.ForgetClass, SyntheticDataset.ClassNames, allowAll: false)[0];
        var (devices, isDefault) = PlanChecks.Devices(o.Device, allowSeveral: false);
        PlanChecks.OutputFolder(o.Out, "--out");
        string basePath = Path.Combine(o.Out, "synthetic_resnet18_base.pth");
        string modelName = ModelCardTable.ModelName(k, "synthetic");
        string outPath = Path.Combine(o.Out, modelName);
        foreach (var file in new[] { basePath, outPath, Path.Combine(o.Out, "report.json"), Path.Combine(o.Out, "confusion.svg"), Path.Combine(o.Out, "confusion.png") })
            if (Directory.Exists(file)) throw new UserError($"--out {o.Out}: {file} is a folder; the demo writes a file there");
        var outputs = new ClassOutputs(k, outPath, Path.Combine(o.Out, "report.json"), [Path.Combine(o.Out, "confusion.svg"), Path.Combine(o.Out, "confusion.png")]);

        var clock = Stopwatch.StartNew();
        using var cancel = new Cancellation();
        var written = new WrittenFiles();
        try
        {
            return Work(o, k, devices[0], isDefault, basePath, outputs, written, clock, cancel.Token);
        }
        catch (OperationCanceledException e) when (e is not RunInterruptedException)
        {
            throw written.Interrupted(null);
        }
    }

    static int Work(DemoOptions o, int k, DeviceSpec device, bool isDefault, string basePath, ClassOutputs outputs, WrittenFiles written,
        Stopwatch clock, CancellationToken cancel)
    {
        var data = SyntheticDataset.Generate(o.TrainPerClass, o.TestPerClass, o.Seed);
        Console.Error.WriteLine($"data: {data.Train}; {data.Test}");

        using var ops = DeviceChoice.Open(device, isDefault);
        using var model = new ResNet18(ops, new ResNet18Config(o.Width, SyntheticDataset.Size, data.Train.ClassCount), o.BatchSize);
        ModelState.Load(model, RandomInit.State(model.Layout, o.Seed));

        // 1. A base model: ordinary training with SGD + Nesterov momentum, no clipping.
        Console.Error.WriteLine($"training a width-{o.Width} ResNet18 for {o.TrainEpochs} epochs ({model.Layout.ParameterCount:N0} parameters)");
        var training = new AdvNegGradSettings { LearningRate = 0.05f, Clip = 0 };
        SupervisedTraining.Run(model, data.Train, training, o.TrainEpochs, batchSize: Math.Min(100, o.BatchSize), o.Seed,
            (epoch, epochs, loss) => Console.Error.WriteLine($"  epoch {epoch}/{epochs}: mean loss {loss:F4}"), cancel);
        var weights = ModelFiles.Canonical(model);
        weights.Save(basePath);
        written.Add(basePath);
        var before = ReportOutputs.Evaluate(model, data.Test, k, cancel);

        // 2. AdvNegGrad with the card's settings, one epoch.
        var card = new AdvNegGradSettings();
        Console.Error.WriteLine($"unlearning class {k} ({data.Train.ClassNames[k]}) with AdvNegGrad: {card}");
        var schedule = new UnlearningSchedule { BatchSize = o.BatchSize, Seed = o.Seed, Augment = false };
        UnlearningRun.Run(model, data.Train, k, card, schedule, p => ProgressLine.Show(p), cancel);
        ProgressLine.Finish();
        var after = ReportOutputs.Evaluate(model, data.Test, k, cancel);
        string outPath = outputs.Model!, modelName = Path.GetFileName(outPath);
        ReportOutputs.WriteClass(outputs, after, written);
        ModelFiles.Save(model, weights, outPath);
        written.Add(outPath);

        Console.WriteLine();
        Console.WriteLine("before unlearning (base model) and after:");
        Console.WriteLine(ModelCardTable.Table([(before, Path.GetFileName(basePath)), (after, modelName)]));
        ReportOutputs.Print(after, modelName);
        Console.Error.WriteLine($"models: {Path.GetFullPath(basePath)}, {Path.GetFullPath(outPath)}");
        Console.Error.WriteLine($"done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }
}
