using CommandLine;
using System.Diagnostics;
using System.Globalization;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Manifest;
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

    [Option("retrained", Default = "auto", HelpText = RunEvaluation.RetrainedHelp)]
    public string Retrained { get; set; } = "auto";

    [Option("report-json", HelpText = "Where to write the whole run report (both splits, base/unlearned/retrained, every metric with its interval, gaps). Default: <out>.report.json; with all, one per model. " + RunEvaluation.MetricsHelp)]
    public string? ReportJson { get; set; }

    [Option("bootstrap", Default = 1000, HelpText = RunEvaluation.BootstrapHelp)]
    public int Bootstrap { get; set; }

    [Option("collapse-threshold", Default = RunReport.DefaultCollapseThreshold, HelpText = RunEvaluation.CollapseHelp)]
    public double CollapseThreshold { get; set; }
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

        var evaluationSettings = RunEvaluation.Settings(o.Bootstrap, o.Seed);
        RunEvaluation.CheckRetrainedOption(o.Retrained);
        RunEvaluation.CheckOutputFolders(("--report-json", o.ReportJson));
        var clock = Stopwatch.StartNew();
        using var cancel = new Cancellation();
        var data = DataChoice.LoadData(o.Dataset, o.Data, cancel.Token, out string? dataPath);
        var classes = DataChoice.ParseForgetClasses(o.ForgetClass, data.Train.ClassNames);
        var (weights, weightsPath) = DataChoice.LoadWeights(o.Weights, cancel.Token);
        if (weights.NumClasses != data.Train.ClassCount)
            throw new UserError($"the model has {weights.NumClasses} classes, the data {data.Train.ClassCount}");
        bool several = classes.Length > 1;
        string dataset = o.Dataset.ToLowerInvariant().Replace("-", "", StringComparison.Ordinal);
        if (several && o.Out is not null && Path.HasExtension(o.Out))
            throw new UserError($"--out {o.Out}: with --forget-class all, --out is a folder");

        using var ops = DeviceChoice.Open(o.Device);
        var config = ModelFiles.ConfigOf(weights);
        int batch = Math.Min(o.BatchSize, data.Train.Count);
        using var model = new ResNet18(ops, config, Math.Max(batch, Math.Min(o.EvalBatchSize, data.Test.Count)));
        var reports = new List<(UnlearningReport Report, string? ModelName)>();
        var loadPhase = new PhaseRecord("load data and weights", clock.Elapsed.TotalSeconds);
        // The base model's outputs, once for every class: printed (and written) before the unlearned model's.
        ModelFiles.Load(model, weights);
        var baseOutputs = RunEvaluation.Forward(model, data, "base model", cancel.Token);
        foreach (int k in classes)
        {
            string modelName = ModelCardTable.ModelName(k, dataset);
            string outPath = several ? Path.Combine(o.Out ?? ".", modelName) : o.Out ?? modelName;
            var phases = new List<PhaseRecord> { loadPhase, baseOutputs.Phase };
            string? retrainedPath = RunEvaluation.RetrainedPath(o.Retrained, o.Weights is not null, data.Train.ClassNames[k], cancel.Token);
            var retrainedOutputs = retrainedPath is null ? default : RunEvaluation.ForwardFile(model, retrainedPath, data, "retrained", cancel.Token);
            if (retrainedPath is not null) phases.Add(retrainedOutputs.Phase);
            var baseEvaluation = ModelEvaluation.Compute(Path.GetFileName(weightsPath), "base", baseOutputs.Train, baseOutputs.Test, k, retrainedOutputs.Train, evaluationSettings, cancel.Token);
            Console.WriteLine();
            Console.WriteLine("base model, before unlearning:");
            Console.WriteLine(ModelCardTable.Table([(baseOutputs.Test.CardReport(k, data.Test.ClassNames), Path.GetFileName(weightsPath))]));
            RunEvaluation.Print(RunReport.Create("base", Path.GetFileName(weightsPath), k, data.Test.ClassNames, null, baseEvaluation, null, null, evaluationSettings));

            Console.Error.WriteLine($"forgetting class {k} ({data.Train.ClassNames[k]}): {settings}, {schedule.Epochs} epoch(s) of batch {schedule.BatchSize}");
            ModelFiles.Load(model, weights);
            var unlearnClock = Stopwatch.StartNew();
            UnlearningRun.Run(model, data.Train, k, settings, schedule, ProgressLine.Show, cancel.Token);
            ProgressLine.Finish();
            long unlearnImages = 2L * (data.Train.Count - data.Train.IndicesOfClass(k).Length) * schedule.Epochs;
            phases.Add(new PhaseRecord("unlearning", unlearnClock.Elapsed.TotalSeconds, unlearnImages, unlearnImages / Math.Max(unlearnClock.Elapsed.TotalSeconds, 1e-9)));

            var outputs = RunEvaluation.Forward(model, data, "unlearned model", cancel.Token);
            phases.Add(outputs.Phase);
            var report = outputs.Test.CardReport(k, data.Test.ClassNames);
            var saveClock = Stopwatch.StartNew();
            ModelFiles.Save(model, weights, outPath);
            phases.Add(new PhaseRecord("save model", saveClock.Elapsed.TotalSeconds));
            Console.Error.WriteLine($"model: {Path.GetFullPath(outPath)}");
            var metricsClock = Stopwatch.StartNew();
            var evaluation = ModelEvaluation.Compute(Path.GetFileName(outPath), "unlearned", outputs.Train, outputs.Test, k, retrainedOutputs.Train, evaluationSettings, cancel.Token);
            var retrained = retrainedPath is null ? null
                : ModelEvaluation.Compute(Path.GetFileName(retrainedPath), "retrained", retrainedOutputs.Train, retrainedOutputs.Test, k, retrainedOutputs.Train, evaluationSettings, cancel.Token);
            var runReport = RunReport.Create("AdvNegGrad", Path.GetFileName(outPath), k, data.Test.ClassNames, report, evaluation, baseEvaluation, retrained, evaluationSettings, o.CollapseThreshold);
            phases.Add(new PhaseRecord("metrics", metricsClock.Elapsed.TotalSeconds));
            ReportOutputs.Print(report, Path.GetFileName(outPath));
            RunEvaluation.Print(runReport);
            string confusionPath = o.Confusion ?? Path.ChangeExtension(outPath, ".confusion.svg");
            ReportOutputs.Write([report], null, confusionPath);
            string reportPath = o.ReportJson is null ? outPath + ".report.json" : several ? Path.Combine(Path.GetDirectoryName(o.ReportJson) ?? "", Path.GetFileNameWithoutExtension(o.ReportJson) + $"_{k}" + Path.GetExtension(o.ReportJson)) : o.ReportJson;
            RunReportJson.Write(reportPath, [runReport]);
            Console.Error.WriteLine($"run report: {Path.GetFullPath(reportPath)}");
            WriteManifest(o, ops.Name, k, settings, schedule, weightsPath, dataPath, retrainedPath, outPath, reportPath,
                several && o.Confusion is not null ? null : confusionPath, phases);
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

    /// <summary>The run manifest beside the model: hashes of inputs and outputs, every setting, device, version, phases.</summary>
    static void WriteManifest(UnlearnOptions o, string device, int k, AdvNegGradSettings settings, UnlearningSchedule schedule, string weightsPath,
        string? dataPath, string? retrainedPath, string outPath, string reportPath, string? confusionPath, List<PhaseRecord> phases)
    {
        string manifestPath = RunManifestJson.PathFor(outPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath)) ?? ".";
        string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        var manifest = new RunManifest
        {
            Version = RunEvaluation.Version,
            Command = ["unlearn", .. Environment.GetCommandLineArgs().Skip(2)],
            Device = device,
            Machine = Inv($"{Environment.MachineName}, {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}"),
            CreatedUtc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
            {
                ["method"] = "AdvNegGrad", ["forget_class"] = Inv($"{k}"), ["dataset"] = o.Dataset,
                ["alpha"] = Inv($"{settings.Alpha}"), ["card_update"] = Inv($"{settings.CardUpdateForm}"), ["clip"] = Inv($"{settings.Clip}"),
                ["lr"] = Inv($"{settings.LearningRate}"), ["momentum"] = Inv($"{settings.Momentum}"), ["weight_decay"] = Inv($"{settings.WeightDecay}"),
                ["nesterov"] = Inv($"{settings.Nesterov}"), ["epochs"] = Inv($"{schedule.Epochs}"), ["batch_size"] = Inv($"{schedule.BatchSize}"),
                ["seed"] = Inv($"{schedule.Seed}"), ["shuffle"] = Inv($"{schedule.Shuffle}"), ["augment"] = schedule.Augment ? "crop-flip" : "none",
                ["eval_batch_size"] = Inv($"{o.EvalBatchSize}"), ["bootstrap"] = Inv($"{o.Bootstrap}"), ["collapse_threshold"] = Inv($"{o.CollapseThreshold}"),
                ["retrained"] = o.Retrained,
            },
        };
        manifest.Inputs.AddRange(FileDigest.Records("weights", weightsPath, folder));
        if (dataPath is not null) manifest.Inputs.AddRange(FileDigest.Records("data", dataPath, folder));
        if (retrainedPath is not null) manifest.Inputs.AddRange(FileDigest.Records("retrained", retrainedPath, folder));
        manifest.Outputs.Add(FileDigest.Record("model", outPath, folder));
        manifest.Outputs.Add(FileDigest.Record("report", reportPath, folder));
        if (confusionPath is not null && File.Exists(confusionPath)) manifest.Outputs.Add(FileDigest.Record("confusion", confusionPath, folder));
        manifest.Phases.AddRange(phases);
        RunManifestJson.Write(manifestPath, manifest);
        Console.Error.WriteLine($"manifest: {Path.GetFullPath(manifestPath)}");
    }
}
