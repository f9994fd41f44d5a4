using System.Diagnostics;
using CommandLine;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("demo", isDefault: false, HelpText = "The whole job on built-in data, no download, no GPU needed: train a narrow ResNet18 on the shipped Fashion-MNIST subset (or a synthetic set), unlearn one class, report before and after.")]
public sealed class DemoOptions
{
    [Option("dataset", Default = "fashion-mnist", HelpText = "fashion-mnist (the 3,000 + 1,000 real images shipped with the program, or --data) or synthetic (generated shapes; there the card's AdvNegGrad also collapses several retain classes, and the demo says which).")]
    public string Dataset { get; set; } = "fashion-mnist";

    [Option("data", HelpText = "With fashion-mnist: a folder of its four IDX files instead of the shipped subset (e.g. /usr/share/datasets/fashion-mnist).")]
    public string? Data { get; set; }

    [Option("forget-class", Default = "3", HelpText = "The class to forget (0-9 or a name; 3 is Dress in Fashion-MNIST).")]
    public string ForgetClass { get; set; } = "3";

    [Option("out", Default = "ilgpu-unlearn-demo", HelpText = "Folder for the base and unlearned models, the report and the confusion-matrix pictures.")]
    public string Out { get; set; } = "ilgpu-unlearn-demo";

    [Option("width", Default = 16, HelpText = "Base width of the ResNet18 (64 is the card's network). The default is ours: a network that trains in seconds on a CPU.")]
    public int Width { get; set; }

    [Option("train-per-class", HelpText = "Training images per class (default: all shipped Fashion-MNIST ones; 200 synthetic).")]
    public int? TrainPerClass { get; set; }

    [Option("test-per-class", HelpText = "Test images per class (default: all shipped Fashion-MNIST ones; 50 synthetic).")]
    public int? TestPerClass { get; set; }

    [Option("train-epochs", Default = 4, HelpText = "Epochs of ordinary training that make the base model. The default is ours (about 80% test accuracy at width 16).")]
    public int TrainEpochs { get; set; }

    [Option("batch-size", Default = 250, HelpText = "Retain images per unlearning step (the card's 2500 scaled to the smaller set).")]
    public int BatchSize { get; set; }

    [Option("seed", Default = 1, HelpText = "Seed of the data, the initialisation and the shuffles. The default is ours (README's rows are this seed's).")]
    public int Seed { get; set; }

    [Option("bootstrap", Default = 1000, HelpText = RunEvaluation.BootstrapHelp)]
    public int Bootstrap { get; set; }

    [Option("force", HelpText = PlanChecks.ForceHelp + " A second demo into the same --out needs it.")]
    public bool Force { get; set; }

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }
}

internal static class DemoCommand
{
    /// <summary>The Fashion-MNIST subset shipped with the program (data/fashion-mnist-demo/ in the repository, copied next to it).</summary>
    public static string ShippedFashionMnist => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-demo");

    public static int Run(DemoOptions o)
    {
        // Every check first: sizes, the dataset, the class name, the device, the output folder (created) and every file in it.
        if (o.Width < 1 || o.TrainPerClass < 1 || o.TestPerClass < 1 || o.TrainEpochs < 0 || o.BatchSize < 1)
            throw new UserError("--width, --train-per-class, --test-per-class and --batch-size must be at least 1, --train-epochs at least 0");
        var kind = DatasetLoader.ParseKind(o.Dataset);
        if (kind == DatasetKind.Cifar10)
            throw new UserError("--dataset: the demo runs on fashion-mnist or synthetic; for CIFAR-10 use ilgpu-unlearn unlearn");
        if (o.Data is not null && kind != DatasetKind.FashionMnist)
            throw new UserError("--data: only --dataset fashion-mnist reads files");
        DataChoice.CheckDataPath(kind, o.Data);
        string name = kind == DatasetKind.Synthetic ? "synthetic" : "fashion-mnist";
        var classNames = kind == DatasetKind.Synthetic ? SyntheticDataset.ClassNames : FashionMnist.ClassNames;
        int k = PlanChecks.ForgetClasses(o.ForgetClass, classNames, allowAll: false)[0];
        var (devices, isDefault) = PlanChecks.Devices(o.Device, allowSeveral: false);
        // The network the demo trains: 1x28x28 grey Fashion-MNIST (or --data's images, the same format), 3x32x32 synthetic shapes.
        var planned = kind == DatasetKind.Synthetic ? new ResNet18Config(o.Width, SyntheticDataset.Size, classNames.Count)
            : new ResNet18Config(o.Width, FashionMnist.ImageSize, classNames.Count, InputChannels: 1) { Normalization = InputNormalization.DefaultFor(1) };
        string basePath = Path.Combine(o.Out, $"{name}_resnet18_base.pth");
        string outPath = Path.Combine(o.Out, ModelCardTable.ModelName(k, name));
        // Named as unlearn names its outputs: the model, and beside it <model>.card.json, .report.json, .confusion.svg/.png.
        string[] pictures = [Path.ChangeExtension(outPath, ".confusion.svg"), Path.ChangeExtension(outPath, ".confusion.png")];
        string cardPath = Path.ChangeExtension(outPath, ".card.json");
        foreach (var file in (string[])[basePath, outPath, cardPath, Path.ChangeExtension(outPath, ".report.json"), .. pictures])
        {
            if (Directory.Exists(file)) throw new UserError($"--out {o.Out}: {file} is a folder; the demo writes a file there");
            PlanChecks.NotReplacing(file, "in --out", o.Force);
        }
        // The memory estimate (a "memory:" line) only once the outputs are known to be free, so a refusal comes alone.
        DeviceChoice.CheckMemory(devices, planned, o.BatchSize, training: true, "--batch-size");
        PlanChecks.OutputFolder(o.Out, "--out");
        PlanChecks.CreateFolders();
        var outputs = new ClassOutputs(k, outPath, cardPath, pictures);

        var clock = Stopwatch.StartNew();
        using var cancel = new Cancellation();
        var written = new WrittenFiles();
        try
        {
            return Work(o, kind, k, devices[0], isDefault, basePath, outputs, written, clock, cancel.Token);
        }
        catch (OperationCanceledException e) when (e is not RunInterruptedException)
        {
            throw written.Interrupted(null);
        }
    }

    static int Work(DemoOptions o, DatasetKind kind, int k, DeviceSpec device, bool isDefault, string basePath, ClassOutputs outputs,
        WrittenFiles written, Stopwatch clock, CancellationToken cancel)
    {
        var data = kind == DatasetKind.Synthetic
            ? SyntheticDataset.Generate(o.TrainPerClass ?? 200, o.TestPerClass ?? 50, o.Seed)
            : FashionMnistReader.Load(o.Data ?? ShippedFashionMnist);
        if (kind == DatasetKind.FashionMnist && (o.TrainPerClass is not null || o.TestPerClass is not null))
            data = new DatasetSplit(data.Train.FirstPerClass(o.TrainPerClass ?? int.MaxValue), data.Test.FirstPerClass(o.TestPerClass ?? int.MaxValue));
        Console.Error.WriteLine($"data: {(kind == DatasetKind.Synthetic ? "generated (synthetic shapes)" : Path.GetFullPath(o.Data ?? ShippedFashionMnist))}");
        Console.Error.WriteLine($"  {data.Train}");
        Console.Error.WriteLine($"  {data.Test}");
        var train = data.Train;
        var normalization = InputNormalization.DefaultFor(train.Channels);
        var config = new ResNet18Config(o.Width, train.Height, train.ClassCount, train.Channels) { Normalization = normalization };
        Console.Error.WriteLine($"normalisation: {normalization} ({normalization.Source})");

        using var ops = DeviceChoice.Open(device, isDefault);
        using var model = new ResNet18(ops, config, o.BatchSize);
        RandomInit.Load(model, o.Seed);

        // 1. A base model: ordinary training with SGD + Nesterov momentum, no clipping.
        Console.Error.WriteLine($"training a width-{o.Width} ResNet18 for {o.TrainEpochs} epochs ({model.Layout.ParameterCount:N0} parameters)");
        // The train verb's loop (TrainingRun) with a constant rate, no augmentation and no checkpoint.
        var recipe = new TrainingRecipe
        {
            Epochs = o.TrainEpochs, BatchSize = Math.Min(100, o.BatchSize), LearningRate = 0.05, Schedule = new LearningRateSchedule.Constant(),
            Augment = false, Seed = o.Seed,
        };
        TrainingRun.Run(model, train, null, recipe,
            epochDone: (e, _) => Console.Error.WriteLine($"  epoch {e.Epoch}/{recipe.Epochs}: mean loss {e.TrainLoss:F4}"), cancel: cancel);
        var weights = ModelFiles.Canonical(model);
        weights.Save(basePath);
        written.Add(basePath);
        // Both splits, once each, for the card's row and the run report's metrics (the membership attacks need the training images).
        var baseOutputs = RunEvaluation.Forward(model, data, "base model", cancel);
        var before = baseOutputs.Test.CardReport(k, train.ClassNames);

        // 2. AdvNegGrad with the card's settings, one epoch.
        var card = new AdvNegGrad().Defaults with { BatchSize = o.BatchSize, Seed = o.Seed, Augment = false };
        Console.Error.WriteLine($"unlearning class {k} ({train.ClassNames[k]}) with {card}");
        MethodRun.Run(model, train, k, card, p => ProgressLine.Show(p), cancel);
        ProgressLine.Finish();
        var unlearnedOutputs = RunEvaluation.Forward(model, data, "unlearned model", cancel);
        var after = unlearnedOutputs.Test.CardReport(k, train.ClassNames);
        string outPath = outputs.Model!, modelName = Path.GetFileName(outPath), runReportPath = Path.ChangeExtension(outPath, ".report.json");
        // The run report unlearn writes: UA, RA, TUA, TRA, SalUn's figures, MIA-efficacy and the loss attack with their
        // intervals, for the base and the unlearned model (no retrained model here, so no gap, Avg. Gap or FQS).
        var settings = RunEvaluation.Settings(o.Bootstrap, o.Seed, "salun");
        var baseEvaluation = ModelEvaluation.Compute(Path.GetFileName(basePath), "base", baseOutputs.Train, baseOutputs.Test, k, null, settings, cancel);
        baseEvaluation.Sha256 = Manifest.FileDigest.Sha256(basePath);
        var evaluation = ModelEvaluation.Compute(modelName, "unlearned", unlearnedOutputs.Train, unlearnedOutputs.Test, k, null, settings, cancel);
        var runReport = RunReport.Create("AdvNegGrad", modelName, k, train.ClassNames, after, evaluation, baseEvaluation, null, settings);
        runReport.Settings = DemoSettings(o, kind, card);
        ReportOutputs.WriteClass(outputs, after, written);
        RunReportJson.Write(runReportPath, [runReport]);
        written.Add(runReportPath);
        ModelFiles.Save(model, weights, outPath);
        written.Add(outPath);

        Console.WriteLine();
        Console.WriteLine("before unlearning (base model) and after:");
        Console.WriteLine(ModelCardTable.Table([(before, Path.GetFileName(basePath)), (after, modelName)]));
        foreach (string line in CollapseNote(runReport.CollapsedClasses, runReport.CollapseThreshold, train.ClassCount - 1, kind)) Console.WriteLine(line);
        ReportOutputs.PrintDetails(after);
        Console.WriteLine();
        RunEvaluation.Print(runReport);
        Console.Error.WriteLine($"run report: {Path.GetFullPath(runReportPath)}");
        Console.Error.WriteLine($"models: {Path.GetFullPath(basePath)}, {Path.GetFullPath(outPath)}");
        Console.Error.WriteLine($"done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>
    /// The run report's settings, keyed as unlearn's are (the method's as its manifest records them, then the run's): the
    /// demo computes no figures below the logits and has no retrained model, and says how its base was trained.
    /// </summary>
    static SortedDictionary<string, string> DemoSettings(DemoOptions o, DatasetKind kind, MethodSettings card)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["dataset"] = kind == DatasetKind.Synthetic ? "synthetic" : "fashion-mnist", ["bootstrap"] = o.Bootstrap.ToString(c),
            ["below_logits"] = "none", ["retrained"] = "none", ["demo_width"] = o.Width.ToString(c), ["demo_train_epochs"] = o.TrainEpochs.ToString(c),
        };
        foreach (var (key, value) in card.ManifestEntries()) settings[key] = value;
        return settings;
    }

    /// <summary>
    /// Said right under the before-and-after table, whose retain figure is a mean that hides it: the retain classes whose
    /// test accuracy fell more than <paramref name="threshold"/> points below the base model's (the run report's collapse
    /// guard); on the synthetic shapes, also why. Empty when none did.
    /// </summary>
    /// <remarks>
    /// Why, as measured on the synthetic demo (width 16, defaults; 4 of 9 retain classes collapsed, to 0-88%): the weights
    /// keep the classes, the BatchNorm running statistics lose them. With the statistics recomputed in PyTorch from
    /// retain-class training batches alone, the four came back to 86-96% (and the forget class rose from 6% to 56%: part of
    /// the forgetting is in the statistics too). The same base unlearnt by `unlearn --dataset synthetic` (5,000 images, 18
    /// steps, 5 collapsed): back to 72-100% from retain batches, collapsed again (11-52%) from forget and retain batches in
    /// turn, as the card's step forwards them in training mode. Gradient ascent drives the forget class's activations far
    /// out (its training loss rose from 6 to 67 in those 18 steps), and every step's forget batch pulls the running
    /// statistics toward them. The card's algorithm is kept as it is; the demo says what it did.
    /// </remarks>
    internal static IReadOnlyList<string> CollapseNote(IReadOnlyList<CollapsedClass> collapsed, double threshold, int retainClasses, DatasetKind kind)
    {
        if (collapsed.Count == 0) return [];
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string classes = string.Join(", ", collapsed.Select(c => string.Format(inv, "{0} {1:F1}% (base {2:F1}%)", c.Name, c.Accuracy, c.BaseAccuracy)));
        var lines = new List<string>
        {
            string.Format(inv, "WARNING: unlearning collapsed {0} of the {1} retain classes (test accuracy more than {2:G} points below the base model's): {3}; " +
                "the retain accuracy in the table is the mean over all {1}.", collapsed.Count, retainClasses, threshold, classes),
        };
        if (kind == DatasetKind.Synthetic)
            lines.Add("On the synthetic shapes the card's AdvNegGrad does this: gradient ascent drives the forget class's activations far out, and its " +
                "batches, forwarded with BatchNorm in training mode as on the card, pull the running statistics that evaluation uses away from the " +
                "retain classes'. The Fashion-MNIST demo (the default) shows the card's outcome.");
        return lines;
    }
}
