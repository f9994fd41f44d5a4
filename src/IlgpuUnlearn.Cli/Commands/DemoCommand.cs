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
        if (o.Width < 1 || o.TrainPerClass < 1 || o.TestPerClass < 1 || o.TrainEpochs < 0 || o.BatchSize < 1)
            throw new UserError("--width, --train-per-class, --test-per-class and --batch-size must be at least 1, --train-epochs at least 0");
        var config = new ResNet18Config(o.Width, SyntheticDataset.Size, SyntheticDataset.ClassNames.Count);
        DeviceChoice.CheckMemory(o.Device, config, o.BatchSize, training: true, "--batch-size");
        var clock = Stopwatch.StartNew();
        using var cancel = new Cancellation();
        var data = SyntheticDataset.Generate(o.TrainPerClass, o.TestPerClass, o.Seed);
        int k = DataChoice.ParseForgetClasses(o.ForgetClass, data.Train.ClassNames) is [var only] ? only
            : throw new UserError("the demo forgets one class");
        Console.Error.WriteLine($"data: {data.Train}; {data.Test}");

        using var ops = DeviceChoice.Open(o.Device);
        using var model = new ResNet18(ops, config, o.BatchSize);
        ModelState.Load(model, RandomInit.State(model.Layout, o.Seed));

        // 1. A base model: ordinary training with SGD + Nesterov momentum, no clipping.
        Console.Error.WriteLine($"training a width-{o.Width} ResNet18 for {o.TrainEpochs} epochs ({model.Layout.ParameterCount:N0} parameters)");
        var training = new AdvNegGradSettings { LearningRate = 0.05f, Clip = 0 };
        SupervisedTraining.Run(model, data.Train, training, o.TrainEpochs, batchSize: Math.Min(100, o.BatchSize), o.Seed,
            (epoch, epochs, loss) => Console.Error.WriteLine($"  epoch {epoch}/{epochs}: mean loss {loss:F4}"), cancel.Token);
        Directory.CreateDirectory(o.Out);
        string basePath = Path.Combine(o.Out, "synthetic_resnet18_base.pth");
        var weights = ModelFiles.Canonical(model);
        weights.Save(basePath);
        var before = ReportOutputs.Evaluate(model, data.Test, k, cancel.Token);

        // 2. AdvNegGrad with the card's settings, one epoch.
        Console.Error.WriteLine($"unlearning class {k} ({data.Train.ClassNames[k]}) with AdvNegGrad: alpha 0.15, clip 0.5, lr 0.1, Nesterov momentum 0.9, weight decay 5e-4");
        var schedule = new UnlearningSchedule { BatchSize = o.BatchSize, Seed = o.Seed, Augment = false };
        UnlearningRun.Run(model, data.Train, k, new AdvNegGradSettings(), schedule, ProgressLine.Show, cancel.Token);
        ProgressLine.Finish();
        var after = ReportOutputs.Evaluate(model, data.Test, k, cancel.Token);
        string modelName = ModelCardTable.ModelName(k, "synthetic");
        string outPath = Path.Combine(o.Out, modelName);
        ModelFiles.Save(model, weights, outPath);

        Console.WriteLine();
        Console.WriteLine("before unlearning (base model) and after:");
        Console.WriteLine(ModelCardTable.Table([(before, Path.GetFileName(basePath)), (after, modelName)]));
        ReportOutputs.Print(after, modelName);
        ReportOutputs.Write([after], Path.Combine(o.Out, "report.json"), Path.Combine(o.Out, "confusion.svg"));
        ReportOutputs.Write([after], null, Path.Combine(o.Out, "confusion.png"));
        Console.Error.WriteLine($"models: {Path.GetFullPath(basePath)}, {Path.GetFullPath(outPath)}");
        Console.Error.WriteLine($"done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }
}
