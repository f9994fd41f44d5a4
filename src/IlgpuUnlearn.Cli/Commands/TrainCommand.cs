using IlgpuUnlearn.Data;
using System.Diagnostics;
using CommandLine;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("train", HelpText = "Train a ResNet18 (CIFAR-10, Fashion-MNIST or synthetic: --dataset) from scratch with the base model's recipe (the Comparator's: SGD lr 0.1, momentum 0.9, " +
    "weight decay 5e-4, Nesterov, cosine T_max = epochs, batch 128, crop-flip, 200 epochs), on every class or without one " +
    "(--exclude-class: the retrained model). Checkpoints every epoch; --resume continues bit for bit.")]
public sealed class TrainOptions
{
    [Option("dataset", Default = "cifar10", HelpText = DataChoice.DatasetHelp)]
    public string Dataset { get; set; } = "cifar10";

    [Option("data", HelpText = DataChoice.DataHelp)]
    public string? Data { get; set; }

    [Option("exclude-class", HelpText = "Leave this class (0-9 or a name) out of the training set: the model retrained without it, the field's gold standard for forgetting it.")]
    public string? ExcludeClass { get; set; }

    [Option("out", HelpText = "The trained model (.pth or .safetensors). Default: resnet18_<dataset>_full.pth, or resnet18_<dataset>_no_<k>.pth with --exclude-class.")]
    public string? Out { get; set; }

    [Option("epochs", Default = 200, HelpText = "Epochs (the base recipe: 200).")]
    public int Epochs { get; set; }

    [Option("batch-size", Default = 128, HelpText = "Images per step; the last smaller batch of an epoch is kept.")]
    public int BatchSize { get; set; }

    [Option("lr", Default = 0.1, HelpText = "Base learning rate.")]
    public double LearningRate { get; set; }

    [Option("lr-schedule", Default = "cosine", HelpText = "Stepped per epoch: cosine (T_max = epochs, torch's CosineAnnealingLR), cosine:T_MAX[:ETA_MIN], " +
        "multistep:M1,M2,...:GAMMA (torch's MultiStepLR; the Comparator's unlearning methods use multistep:80,120:0.2) or constant.")]
    public string LearningRateSchedule { get; set; } = "cosine";

    [Option("momentum", Default = 0.9f, HelpText = "SGD momentum.")]
    public float Momentum { get; set; }

    [Option("weight-decay", Default = 5e-4f, HelpText = "Weight decay, on every parameter.")]
    public float WeightDecay { get; set; }

    [Option("no-nesterov", HelpText = "Plain momentum instead of Nesterov.")]
    public bool NoNesterov { get; set; }

    [Option("clip", Default = 0f, HelpText = "Global gradient-norm clipping threshold (0: none, the base recipe).")]
    public float Clip { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the initial parameters, the data order and the augmentation.")]
    public int Seed { get; set; }

    [Option("no-shuffle", HelpText = "Keep file order.")]
    public bool NoShuffle { get; set; }

    [Option("augment", Default = "crop-flip", HelpText = "crop-flip (random 32 crop of the 4-padded image, random horizontal flip) or none.")]
    public string Augment { get; set; } = "crop-flip";

    [Option("width", Default = 64, HelpText = "Base width of the ResNet18 (64: the card's network).")]
    public int Width { get; set; }

    [Option("limit", HelpText = DataChoice.LimitHelp)]
    public int? Limit { get; set; }

    [Option("checkpoint", HelpText = "Checkpoint written (atomically) after every epoch. Default: <out>.ckpt.safetensors.")]
    public string? Checkpoint { get; set; }

    [Option("resume", HelpText = "Continue from the checkpoint (the same options are required): the result is bit for bit that of an unbroken run.")]
    public bool Resume { get; set; }

    [Option("log", HelpText = "The per-epoch log, JSON lines (epoch, lr, train_loss, test_loss, test_accuracy, ...). Default: <out>.log.jsonl.")]
    public string? Log { get; set; }

    [Option("curves", HelpText = "Loss and accuracy curves, SVG. Default: <out>.curves.svg.")]
    public string? Curves { get; set; }

    [Option("force", HelpText = "Start afresh over an existing checkpoint, and replace an existing model, log or curves (without it, either stops the run before it starts).")]
    public bool Force { get; set; }

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }
}

internal static class TrainCommand
{
    public static int Run(TrainOptions o)
    {
        var clock = Stopwatch.StartNew();
        bool augment = o.Augment.ToLowerInvariant() switch
        {
            "crop-flip" => true,
            "none" => false,
            _ => throw new UserError($"--augment '{o.Augment}': use crop-flip or none"),
        };
        if (o.Width < 1) throw new UserError($"--width must be at least 1, got {o.Width}");
        if (o.Epochs < 1) throw new UserError($"--epochs must be at least 1, got {o.Epochs}");
        var schedule = Training.LearningRateSchedule.Parse(o.LearningRateSchedule, o.Epochs);
        if (o.BatchSize < 1) throw new UserError($"--batch-size must be at least 1, got {o.BatchSize}");
        if (o.Out is not null && Path.GetExtension(o.Out).ToLowerInvariant() is not (".pth" or ".pt" or ".safetensors"))
            throw new UserError($"--out {o.Out}: the model is written as .pth, .pt or .safetensors");
        var (devices, isDefault) = PlanChecks.Devices(o.Device, allowSeveral: false);
        var kind = PlanChecks.Dataset(o.Dataset);
        var names = DatasetLoader.ClassNames(kind);
        DataChoice.CheckData(kind, o.Data);
        int? exclude = o.ExcludeClass is null ? null : ParseClass(o.ExcludeClass, names);
        int? limit = DataChoice.CheckLimit(o.Limit, names.Count);

        // Every output is known and checked before the data is read.
        string dataset = o.Dataset.ToLowerInvariant();
        // The names the published models have: resnet18_cifar10_full.pth, resnet18_cifar10_no_cat.pth.
        string outPath = o.Out ?? $"resnet18_{dataset}_{(exclude is { } k ? $"no_{FileNamePart(names[k])}" : "full")}.pth";
        string stem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, Path.GetFileNameWithoutExtension(outPath));
        string checkpointPath = o.Checkpoint ?? stem + ".ckpt.safetensors";
        string logPath = o.Log ?? stem + ".log.jsonl", curvesPath = o.Curves ?? stem + ".curves.svg";
        TrainingCheckpoint? resumeFrom = null;
        if (o.Resume)
        {
            if (!File.Exists(checkpointPath)) throw new UserError($"--resume: no checkpoint at {checkpointPath} (give --checkpoint)");
            resumeFrom = TrainingCheckpoint.Load(checkpointPath);
            Console.Error.WriteLine($"resuming from {checkpointPath}: {resumeFrom.EpochsDone} of {o.Epochs} epochs done");
        }
        else if (File.Exists(checkpointPath) && !o.Force)
        {
            throw new UserError($"{checkpointPath} exists: add --resume to continue that run, or --force to start afresh over it (or choose --checkpoint)");
        }
        else
        {
            // A fresh run replaces nothing unasked: the model, log and curves of another run stay unless --force.
            foreach (var (path, what) in new[] { (outPath, "--out"), (logPath, "--log"), (curvesPath, "--curves") })
                PlanChecks.NotReplacing(path, what, o.Force);
        }
        foreach (var path in new[] { outPath, checkpointPath, logPath, curvesPath }) CheckWritable(path);

        using var cancel = new Cancellation();
        var data = DataChoice.LoadData(new RunPlan { Dataset = kind, DataPath = o.Data, ClassNames = names, Classes = [], Devices = devices, Limit = limit }, cancel.Token);
        var train = data.Train;
        var recipe = new TrainingRecipe
        {
            Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate, Momentum = o.Momentum, WeightDecay = o.WeightDecay,
            Nesterov = !o.NoNesterov, Clip = o.Clip, Schedule = schedule, Shuffle = !o.NoShuffle, Augment = augment, Seed = o.Seed, ExcludeClass = exclude,
        };
        try { recipe.Validate(train.ClassCount); }
        catch (ArgumentException e) { throw new UserError(e.Message); }

        // Grey images train a 1-channel network with Fashion-MNIST's normalisation, colour ones CIFAR-10's.
        var config = new ResNet18Config(o.Width, train.Height, train.ClassCount, train.Channels) { Normalization = InputNormalization.DefaultFor(train.Channels) };
        DeviceChoice.CheckMemory(devices, config, o.BatchSize, training: true, "--batch-size");
        using var ops = DeviceChoice.Open(devices[0], isDefault);
        using var model = new ResNet18(ops, config, o.BatchSize);
        if (resumeFrom is null) RandomInit.Load(model, o.Seed);
        Console.Error.WriteLine($"training a width-{o.Width} ResNet18 ({model.Layout.ParameterCount:N0} parameters) on {train.Name}: {recipe}");
        string title = $"ResNet18 (width {o.Width}) on {train.Name}" + (exclude is { } x ? $" without class {x} ({train.ClassNames[x]})" : "");

        // After each epoch the checkpoint, the log and the curves are on disk: a stopped run says so and how to go on.
        var written = new WrittenFiles();
        IReadOnlyList<EpochRecord> history;
        try
        {
            history = TrainingRun.Run(model, train, data.Test, recipe, resumeFrom,
                epochDone: (record, checkpoint) =>
                {
                    checkpoint.Save(checkpointPath);
                    AtomicFile.WriteAllText(logPath, string.Concat(checkpoint.History.Select(h => h.ToJsonLine() + "\n")));
                    AtomicFile.WriteAllText(curvesPath, TrainingCurveSvg.Render(checkpoint.History, title));
                    if (written.Count == 0) foreach (var path in new[] { checkpointPath, logPath, curvesPath }) written.Add(path);
                    ProgressLine.Finish();
                    string split = record.ExcludedClassTestAccuracy is { } ek ? $" (class {exclude}: {ek:F2}%, others: {record.OtherClassesTestAccuracy:F2}%)" : "";
                    Console.Error.WriteLine($"epoch {record.Epoch}/{recipe.Epochs}: lr {record.LearningRate:G4}, train loss {record.TrainLoss:F4}, " +
                        $"test loss {record.TestLoss:F4}, test accuracy {record.TestAccuracy:F2}%{split}, {record.Seconds:F1} s");
                },
                progress: p => ProgressLine.Show(p), cancel: cancel.Token);
        }
        catch (OperationCanceledException)
        {
            ProgressLine.Finish();
            throw written.Interrupted(written.Count > 0 ? "rerun the same command with --resume to continue from the last epoch" : null);
        }
        ProgressLine.Finish();

        ModelFiles.Canonical(model).Save(outPath);
        if (history.Count > 0 && resumeFrom?.EpochsDone == recipe.Epochs)
            Console.Error.WriteLine("the checkpoint had every epoch done; the model was written from it");
        Console.Error.WriteLine($"model: {Path.GetFullPath(outPath)}");
        Console.Error.WriteLine($"log: {logPath}; curves: {curvesPath}; checkpoint: {checkpointPath}");
        Console.Error.WriteLine($"done in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>A class name as a file name part: lower case, runs of other characters as one '_' ("T-shirt/top" -> "t_shirt_top").</summary>
    static string FileNamePart(string name) =>
        string.Join('_', new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : ' ').ToArray())
            .Split(' ', StringSplitOptions.RemoveEmptyEntries));

    static int ParseClass(string text, IReadOnlyList<string> names)
    {
        text = text.Trim();
        if (int.TryParse(text, out int k))
            return k >= 0 && k < names.Count ? k : throw new UserError($"--exclude-class {k} is outside 0..{names.Count - 1}");
        for (int i = 0; i < names.Count; i++)
            if (string.Equals(names[i], text, StringComparison.OrdinalIgnoreCase)) return i;
        throw new UserError($"--exclude-class '{text}' is not a class index or name ({string.Join(", ", names)})");
    }

    /// <summary>Fails before any training when an output cannot be written: its folder is made, and must not be a file.</summary>
    static void CheckWritable(string path)
    {
        if (Directory.Exists(path)) throw new UserError($"{path} is a folder; a file is written there");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try { Directory.CreateDirectory(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserError($"{path}: cannot create its folder ({e.Message})"); }
        string probe = AtomicFile.TemporaryNameFor(path);
        try { File.WriteAllBytes(probe, []); File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserError($"{path}: cannot write there ({e.Message})"); }
    }
}
