using CommandLine;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("unlearn", HelpText = "Make a CIFAR-10 ResNet18 forget one class (or each class in turn) with AdvNegGrad, then report as the model card does.")]
public sealed class UnlearnOptions
{
    [Option("forget-class", Required = true, HelpText = "The class to forget: 0-9, a class name (cat), or all (ten runs, ten models, one table).")]
    public string ForgetClass { get; set; } = "";

    [Option("weights", HelpText = DataChoice.WeightsHelp)]
    public string? Weights { get; set; }

    [Option("data", HelpText = DataChoice.DataHelp)]
    public string? Data { get; set; }

    [Option("dataset", Default = "cifar10", HelpText = DataChoice.DatasetHelp)]
    public string Dataset { get; set; } = "cifar10";

    [Option("out", HelpText = "Where to write the unlearned model (.pth or .safetensors); with --forget-class all, a folder. Default: cifar10_resnet18_AdvNegGrad_{k}.pth in the current folder.")]
    public string? Out { get; set; }

    [Option("alpha", Default = 0.15f, HelpText = "Weight of the forget loss: g = (1 - alpha) g_retain - alpha g_forget.")]
    public float Alpha { get; set; }

    [Option("card-update", HelpText = "Use the card's update line instead: g = g_retain - alpha g_forget.")]
    public bool CardUpdate { get; set; }

    [Option("clip", Default = 0.5f, HelpText = "Global gradient-norm clipping threshold C (0: no clipping).")]
    public float Clip { get; set; }

    [Option("lr", Default = 0.1f, HelpText = "Learning rate.")]
    public float LearningRate { get; set; }

    [Option("momentum", Default = 0.9f, HelpText = "SGD momentum.")]
    public float Momentum { get; set; }

    [Option("weight-decay", Default = 5e-4f, HelpText = "Weight decay, on every parameter.")]
    public float WeightDecay { get; set; }

    [Option("nesterov", Default = true, HelpText = "Nesterov momentum (the card's setting; on by default).")]
    public bool Nesterov { get; set; }

    [Option("no-nesterov", HelpText = "Plain momentum instead of Nesterov.")]
    public bool NoNesterov { get; set; }

    [Option("epochs", Default = 1, HelpText = "Epochs over the retain set.")]
    public int Epochs { get; set; }

    [Option("batch-size", Default = 2500, HelpText = "Retain images per step (and as many forget images). Lower it if the device runs out of memory.")]
    public int BatchSize { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the shuffles and the augmentation.")]
    public int Seed { get; set; }

    [Option("no-shuffle", HelpText = "Keep file order (both sets), for runs compared bit for bit.")]
    public bool NoShuffle { get; set; }

    [Option("augment", Default = "crop-flip", HelpText = "crop-flip (random 32 crop of the 4-padded image, random horizontal flip: the base model's training) or none.")]
    public string Augment { get; set; } = "crop-flip";

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("json", HelpText = "Write the report(s) as JSON here.")]
    public string? Json { get; set; }

    [Option("confusion", HelpText = "Draw the confusion matrix here (.svg or .png; with all, one per class). Default: next to the model, as .svg.")]
    public string? Confusion { get; set; }

    [Option("eval-batch-size", Default = 500, HelpText = "Images per batch when evaluating.")]
    public int EvalBatchSize { get; set; }
}

internal static class UnlearnCommand
{
    public static int Run(UnlearnOptions o)
    {
        var settings = new AdvNegGradSettings
        {
            Alpha = o.Alpha, CardUpdateForm = o.CardUpdate, Clip = o.Clip, LearningRate = o.LearningRate,
            Momentum = o.Momentum, WeightDecay = o.WeightDecay, Nesterov = o.Nesterov && !o.NoNesterov,
        };
        settings.Validate();
        bool augment = o.Augment.ToLowerInvariant() switch
        {
            "crop-flip" => true,
            "none" => false,
            _ => throw new UserError($"--augment '{o.Augment}': use crop-flip or none"),
        };
        if (o.Epochs < 1) throw new UserError($"--epochs must be at least 1, got {o.Epochs}");
        if (o.BatchSize < 1) throw new UserError($"--batch-size must be at least 1, got {o.BatchSize}");
        if (o.EvalBatchSize < 1) throw new UserError($"--eval-batch-size must be at least 1, got {o.EvalBatchSize}");
        DeviceChoice.Check(o.Device);
        var schedule = new UnlearningSchedule { Epochs = o.Epochs, BatchSize = o.BatchSize, Seed = o.Seed, Shuffle = !o.NoShuffle, Augment = augment };

        using var cancel = new Cancellation();
        var data = DataChoice.LoadData(o.Dataset, o.Data, cancel.Token);
        var classes = DataChoice.ParseForgetClasses(o.ForgetClass, data.Train.ClassNames);
        var (weights, _) = DataChoice.LoadWeights(o.Weights, cancel.Token);
        if (weights.NumClasses != data.Train.ClassCount)
            throw new UserError($"the model has {weights.NumClasses} classes, the data {data.Train.ClassCount}");
        bool several = classes.Length > 1;
        string dataset = o.Dataset.ToLowerInvariant().Replace("-", "", StringComparison.Ordinal);
        if (several && o.Out is not null && Path.HasExtension(o.Out))
            throw new UserError($"--out {o.Out}: with --forget-class all, --out is a folder");

        var config = ModelFiles.ConfigOf(weights);
        int batch = Math.Min(o.BatchSize, data.Train.Count), evalBatch = Math.Min(o.EvalBatchSize, data.Test.Count);
        DeviceChoice.CheckMemory(o.Device, config, Math.Max(batch, evalBatch), training: true, batch >= evalBatch ? "--batch-size" : "--eval-batch-size");
        using var ops = DeviceChoice.Open(o.Device);
        using var model = new ResNet18(ops, config, Math.Max(batch, evalBatch));
        var reports = new List<(UnlearningReport Report, string? ModelName)>();
        foreach (int k in classes)
        {
            string modelName = ModelCardTable.ModelName(k, dataset);
            string outPath = several ? Path.Combine(o.Out ?? ".", modelName) : o.Out ?? modelName;
            Console.Error.WriteLine($"forgetting class {k} ({data.Train.ClassNames[k]}): {settings}, {schedule.Epochs} epoch(s) of batch {schedule.BatchSize}");
            ModelFiles.Load(model, weights);
            UnlearningRun.Run(model, data.Train, k, settings, schedule, ProgressLine.Show, cancel.Token);
            ProgressLine.Finish();

            var report = ReportOutputs.Evaluate(model, data.Test, k, cancel.Token);
            ModelFiles.Save(model, weights, outPath);
            Console.Error.WriteLine($"model: {Path.GetFullPath(outPath)}");
            ReportOutputs.Print(report, Path.GetFileName(outPath));
            ReportOutputs.Write([report], null, o.Confusion ?? Path.ChangeExtension(outPath, ".confusion.svg"));
            reports.Add((report, Path.GetFileName(outPath)));
        }
        if (several)
        {
            Console.WriteLine();
            Console.WriteLine(ModelCardTable.Table(reports));
        }
        ReportOutputs.Write(reports.Select(r => r.Report).ToList(), o.Json, null);
        return 0;
    }
}
