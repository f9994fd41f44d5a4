using CommandLine;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("eval", HelpText = "Evaluate a model on the training and test sets: the model card's forget/retain accuracy and loss, per-class accuracy, " +
    "confusion matrix, and with --forget-class the unlearning metrics with 95% bootstrap intervals, against the base and retrained models when given. " +
    RunEvaluation.MetricsHelp)]
public sealed class EvalOptions
{
    [Option("weights", HelpText = DataChoice.EvalWeightsHelp)]
    public string? Weights { get; set; }

    [Option("forget-class", HelpText = "The class that was forgotten: 0-9 or a class name. Without it, per-class accuracy and loss only.")]
    public string? ForgetClass { get; set; }

    [Option("data", HelpText = DataChoice.DataHelp)]
    public string? Data { get; set; }

    [Option("dataset", Default = "cifar10", HelpText = DataChoice.DatasetHelp)]
    public string Dataset { get; set; } = "cifar10";

    [Option("mean", HelpText = DataChoice.MeanHelp)]
    public string? Mean { get; set; }

    [Option("std", HelpText = DataChoice.StdHelp)]
    public string? Std { get; set; }

    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("json", HelpText = "Write the card's report (test set) as JSON here; without --forget-class, the accuracy and loss over each split and per class.")]
    public string? Json { get; set; }

    [Option("report-json", HelpText = "Write the whole run report (both splits, every metric and interval, base/retrained, gaps) as JSON here; `ilgpu-unlearn report` merges such files. " + RunEvaluation.MetricsHelp)]
    public string? ReportJson { get; set; }

    [Option("comparator-json", HelpText = "Write the evaluation in the Unlearning Comparator's result schema (UA, RA, TUA, TRA, PA, RTE, FQS, accs, t_accs, label_dist, t_label_dist, conf_dist, t_conf_dist) here (needs --forget-class).")]
    public string? ComparatorJson { get; set; }

    [Option("confusion", HelpText = "Draw the confusion matrix here (.svg or .png; needs --forget-class).")]
    public string? Confusion { get; set; }

    [Option("base", HelpText = "The model before unlearning, shown beside this one (and the collapse guard's reference).")]
    public string? Base { get; set; }

    [Option("retrained", Default = "auto", HelpText = RunEvaluation.RetrainedHelp)]
    public string Retrained { get; set; } = "auto";

    [Option("method", Default = "evaluated", HelpText = "The method that made the model, as the report and the Comparator's JSON name it (e.g. AdvNegGrad).")]
    public string Method { get; set; } = "evaluated";

    [Option("no-cache", HelpText = RunEvaluation.NoCacheHelp)]
    public bool NoCache { get; set; }

    [Option("mia-split", Default = "salun", HelpText = MiaSplitNames.Help)]
    public string MiaSplit { get; set; } = "salun";

    [Option("bootstrap", Default = 1000, HelpText = RunEvaluation.BootstrapHelp)]
    public int Bootstrap { get; set; }

    [Option("seed", Default = 0, HelpText = "Seed of the bootstrap and of the loss attack's subsampling and splits.")]
    public int Seed { get; set; }

    [Option("collapse-threshold", Default = RunReport.DefaultCollapseThreshold, HelpText = RunEvaluation.CollapseHelp)]
    public double CollapseThreshold { get; set; }

    [Option("below-logits", Default = "probe,relearn,cka", HelpText = RunEvaluation.BelowLogitsHelp)]
    public string BelowLogits { get; set; } = "probe,relearn,cka";

    [Option("batch-size", Default = 500, HelpText = "Images per batch.")]
    public int BatchSize { get; set; }

    [Option("limit", HelpText = "Evaluate at most N images of each split: the first N/10 of each class. For a quick trial.")]
    public int? Limit { get; set; }

    [Option("force", HelpText = PlanChecks.ForceHelp)]
    public bool Force { get; set; }
}

/// <summary>
/// eval: 1. check every option, the class name, the device and the output locations; 2. load the data, the model and the
/// references (base, retrained); 3. forward each model once over both splits; 4. the card's report and the run report.
/// </summary>
internal static class EvalCommand
{
    public static int Run(EvalOptions o)
    {
        var (plan, settings) = Plan(o);
        int? k = plan.Classes.Count == 1 ? plan.Classes[0].ForgetClass : null;
        using var cancel = new Cancellation();
        var written = new WrittenFiles();
        try
        {
            // The weights first: a wrong file fails in a second, not after the data (or its download).
            var (weights, path) = DataChoice.LoadWeights(plan.WeightsPath, cancel.Token);
            DataChoice.CheckWeightsFitDataset(weights, path, plan.Dataset, plan.ClassNames.Count, plan.Mean, plan.Std);
            var data = DataChoice.LoadData(plan, cancel.Token);
            (data, var config) = DataChoice.FitModel(data, weights, path, plan.Mean, plan.Std);
            string? retrainedPath = k is int kk ? RunEvaluation.RetrainedPath(o.Retrained, o.Weights is not null, data.Test.ClassNames[kk], cancel.Token) : null;

            int batch = Math.Min(o.BatchSize, Math.Max(data.Train.Count, data.Test.Count));
            DeviceChoice.CheckMemory(plan.Devices, config, batch, training: false, "--batch-size", typed: o.BatchSize, what: $"evaluation batch {batch} (--batch-size)");
            using var ops = DeviceChoice.Open(plan.Devices[0], plan.DefaultDevice);
            using var model = new ResNet18(ops, config, batch);
            string name = Path.GetFileName(path);
            var cache = RunEvaluation.Cache(o.NoCache);
            var belowSettings = k is null ? null : RunEvaluation.ParseBelowLogits(o.BelowLogits);
            bool features = RunEvaluation.KeepsFeatures(belowSettings, k);
            var (train, test, _) = RunEvaluation.ForwardCached(model, path, data, name, cache, () => ModelFiles.Load(model, weights), cancel.Token, null, features);
            var baseOutputs = o.Base is null ? default : RunEvaluation.ForwardFile(model, o.Base, data, "base", cancel.Token, null, cache, features);
            var retrainedOutputs = retrainedPath is null ? default : RunEvaluation.ForwardFile(model, retrainedPath, data, "retrained", cancel.Token, null, cache, features);

            var evaluation = RunEvaluation.Metrics(name, "evaluated", train, test, k, retrainedOutputs.Train, settings, cancel.Token, null, null, path);
            var baseEvaluation = o.Base is null ? null
                : RunEvaluation.Metrics(Path.GetFileName(o.Base), "base", baseOutputs.Train, baseOutputs.Test, k, retrainedOutputs.Train, settings, cancel.Token, null, null, o.Base);
            var retrained = retrainedPath is null ? null
                : RunEvaluation.Metrics(Path.GetFileName(retrainedPath), "retrained", retrainedOutputs.Train, retrainedOutputs.Test, k, retrainedOutputs.Train, settings, cancel.Token, null, null, retrainedPath);
            var card = k is int f ? test.CardReport(f, data.Test.ClassNames) : null;
            var below = k is int kb ? RunEvaluation.ComputeBelowLogits(ops, config, data, kb, belowSettings,
                [("evaluated", weights, train, test), ("base", o.Base is null ? null : ModelFiles.Read(o.Base), baseOutputs.Train, baseOutputs.Test),
                 ("retrained", retrainedPath is null ? null : ModelFiles.Read(retrainedPath), retrainedOutputs.Train, retrainedOutputs.Test)],
                baseEvaluation?.Test.ForgetAccuracy, cancel.Token) : null;
            var report = RunReport.Create(o.Method, name, k, data.Test.ClassNames, card, evaluation, baseEvaluation, retrained, settings, o.CollapseThreshold, below);

            if (card is not null)
            {
                if (baseEvaluation is not null)
                {
                    Console.WriteLine();
                    Console.WriteLine("base model:");
                    Console.WriteLine(ModelCardTable.Table([(baseOutputs.Test.CardReport(k!.Value, data.Test.ClassNames), Path.GetFileName(o.Base))]));
                }
                ReportOutputs.Print(card, name);
                ReportOutputs.WriteClass(plan.Classes[0], card, written);
            }
            RunEvaluation.Print(report);
            if (card is null && o.Json is not null)
            {
                RunReportJson.WriteEvaluation(o.Json, evaluation);
                written.Add(o.Json);
                Console.Error.WriteLine($"report: {Path.GetFullPath(o.Json)}");
            }
            if (o.ReportJson is not null)
            {
                RunReportJson.Write(o.ReportJson, [report]);
                written.Add(o.ReportJson);
                Console.Error.WriteLine($"run report: {Path.GetFullPath(o.ReportJson)}");
            }
            if (o.ComparatorJson is not null)
            {
                // RTE: the unlearning time from the model's manifest, when one lies beside it.
                string manifestPath = RunManifestJson.PathFor(path);
                double? runtime = File.Exists(manifestPath)
                    ? RunManifestJson.Read(manifestPath).Phases.FirstOrDefault(p => p.Name == "unlearning")?.Seconds : null;
                ComparatorResultJson.Write(o.ComparatorJson, report, train, test, runtime);
                written.Add(o.ComparatorJson);
                Console.Error.WriteLine($"Comparator result: {Path.GetFullPath(o.ComparatorJson)}");
            }
            return 0;
        }
        catch (OperationCanceledException e) when (e is not RunInterruptedException)
        {
            throw written.Interrupted(null);
        }
    }

    /// <summary>Every check, before anything is loaded.</summary>
    static (RunPlan Plan, EvaluationSettings Settings) Plan(EvalOptions o)
    {
        PlanChecks.AtLeast(o.BatchSize, 1, "--batch-size");
        var settings = RunEvaluation.Settings(o.Bootstrap, o.Seed, o.MiaSplit);
        var kind = PlanChecks.Dataset(o.Dataset);
        var names = DatasetLoader.ClassNames(kind);
        int[] classes = o.ForgetClass is null ? [] : PlanChecks.ForgetClasses(o.ForgetClass, names, allowAll: false);
        if (o.ForgetClass is null && (o.Confusion ?? o.ComparatorJson) is not null)
            throw new UserError("--confusion and --comparator-json need --forget-class");
        var (devices, isDefault) = PlanChecks.Devices(o.Device, allowSeveral: false);
        DataChoice.CheckData(kind, o.Data);
        PlanChecks.InputPath(o.Weights, "--weights");
        PlanChecks.InputPath(o.Base, "--base");
        DataChoice.RequireWeights(kind, o.Weights);
        DataChoice.CheckNormalization(o.Mean, o.Std);
        RunEvaluation.CheckRetrainedOption(o.Retrained);
        RunEvaluation.ParseBelowLogits(o.BelowLogits);
        string[] pictures = o.Confusion is null ? [] : [PlanChecks.OutputFile(o.Confusion, "--confusion", PlanChecks.PictureExtensions)];
        foreach (var (option, file) in new[] { ("--json", o.Json), ("--report-json", o.ReportJson), ("--comparator-json", o.ComparatorJson), ("--confusion", o.Confusion) })
        {
            if (file is null) continue;
            PlanChecks.OutputFile(file, option);
            PlanChecks.NotReplacing(file, option, o.Force);
        }
        var limit = DataChoice.CheckLimit(o.Limit, names.Count);
        PlanChecks.CreateFolders();
        var plan = new RunPlan
        {
            Dataset = kind, DataPath = o.Data, WeightsPath = o.Weights, ClassNames = names,
            Classes = classes.Select(k => new ClassOutputs(k, Model: null, o.Json, pictures)).ToList(), Devices = devices, DefaultDevice = isDefault,
            Json = o.Json, Limit = limit, Mean = o.Mean, Std = o.Std,
        };
        return (plan, settings);
    }
}
