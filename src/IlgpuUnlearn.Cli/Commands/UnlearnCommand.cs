using System.Diagnostics;
using System.Globalization;
using CommandLine;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Seeds;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("unlearn", HelpText = "Make a ResNet18 (CIFAR-10 or Fashion-MNIST) forget one class (or each class in turn) with AdvNegGrad (the model card's method, the default) or another method (--method), then report as the model card does.")]
public sealed class UnlearnOptions
{
    [Option("method", HelpText = "The unlearning method: advneggrad (the model card; the default), ft, ga, rl, salun, scrub (the Machine Unlearning " +
        "Comparator's baselines), ssd, lfssd (Selective Synaptic Dampening and its label-free variant, no training), delete, l1sparse, cfk, euk, badteacher, neggrad+. Every other default follows the method; the list after the " +
        "options gives each method, its own options, its defaults and their sources.")]
    public string? Method { get; set; }

    [Option("recipe", HelpText = "Start from a recipe instead of the method's defaults: a name (listed after the options: comparator, advneggrad-card, " +
        "salun-card, cfk-card), a JSON file of settings with \"method\", or a run's manifest (<model>.manifest.json: replays its method settings). " +
        "Options given on the command line still override it.")]
    public string? Recipe { get; set; }

    [Option("forget-class", Required = true, HelpText = "The class to forget: 0-9, a class name (cat), or all (ten runs, ten models, one table).")]
    public string ForgetClass { get; set; } = "";

    [Option("weights", HelpText = DataChoice.WeightsHelp)]
    public string? Weights { get; set; }

    [Option("data", HelpText = DataChoice.DataHelp)]
    public string? Data { get; set; }

    [Option("dataset", Default = "cifar10", HelpText = DataChoice.DatasetHelp)]
    public string Dataset { get; set; } = "cifar10";

    [Option("mean", HelpText = DataChoice.MeanHelp)]
    public string? Mean { get; set; }

    [Option("std", HelpText = DataChoice.StdHelp)]
    public string? Std { get; set; }

    [Option("out", HelpText = "Where to write the unlearned model (.pth or .safetensors); with --forget-class all, a folder. Default: <dataset>_resnet18_<Method>_<k>.pth in the current folder, e.g. cifar10_resnet18_AdvNegGrad_3.pth or fashion-mnist_resnet18_SCRUB_3.pth (the method as the list after the options names it).")]
    public string? Out { get; set; }

    [Option("alpha", HelpText = "advneggrad and neggrad+ only: weight of the forget loss, g = (1 - alpha) g_retain - alpha g_forget. Default: 0.15 (advneggrad), 0.0001 (neggrad+).")]
    public float? Alpha { get; set; }

    [Option("card-update", HelpText = "advneggrad only: use the card's update line instead: g = g_retain - alpha g_forget.")]
    public bool CardUpdate { get; set; }

    [Option("clip", HelpText = "Global gradient-norm clipping threshold (0: no clipping). Default: the method's (by method after the options).")]
    public float? Clip { get; set; }

    [Option("lr", HelpText = "Learning rate. Default: the method's (by method after the options).")]
    public float? LearningRate { get; set; }

    [Option("lr-schedule", HelpText = "Stepped per epoch: cosine[:T_MAX[:ETA_MIN]], multistep:M1,M2,...:GAMMA or constant. " +
        "Default: the method's (by method after the options; ft's T_MAX is its --epochs).")]
    public string? LearningRateSchedule { get; set; }

    [Option("momentum", HelpText = "SGD momentum. Default: the method's (by method after the options).")]
    public float? Momentum { get; set; }

    [Option("weight-decay", HelpText = "Weight decay, on every parameter. Default: the method's (by method after the options).")]
    public float? WeightDecay { get; set; }

    [Option("nesterov", HelpText = "Nesterov momentum. Default: the method's (by method after the options).")]
    public bool Nesterov { get; set; }

    [Option("no-nesterov", HelpText = "Plain momentum instead of Nesterov.")]
    public bool NoNesterov { get; set; }

    [Option("epochs", HelpText = "Epochs. Default: the method's (by method after the options).")]
    public int? Epochs { get; set; }

    [Option("batch-size", HelpText = "Images per step (advneggrad: retain images, and as many forget images). Lower it if the device runs out of memory. " +
        "Default: the method's (by method after the options).")]
    public int? BatchSize { get; set; }

    [Option("seed", HelpText = "Seed of the shuffles, the augmentation and the random labels. Default: the method's (by method after the options; the Comparator's methods 2048, its UNLEARN_SEED).")]
    public int? Seed { get; set; }

    [Option("seeds", HelpText = SeedsOption.Help)]
    public string? Seeds { get; set; }

    [Option("no-shuffle", HelpText = "Keep file order (every set), for runs compared bit for bit.")]
    public bool NoShuffle { get; set; }

    [Option("augment", HelpText = "crop-flip (random 32 crop of the 4-padded image, random horizontal flip: the base model's training) or none. " +
        "Default: the method's (by method after the options).")]
    public string? Augment { get; set; }

    [Option("saliency-threshold", HelpText = "salun only: the fraction of the weights updated, those with the largest mean |gradient| of the forget loss. Default: 0.75.")]
    public double? SaliencyThreshold { get; set; }

    [Option("saliency-batches", HelpText = "salun only: forget batches the saliency is measured on. Default: 5.")]
    public int? SaliencyBatches { get; set; }

    [Option("freeze-masked", HelpText = "salun only: masked weights keep their value exactly (the mask applies to the whole update, weight decay and momentum included: " +
        "SalUn's fix, OPTML-Group/Unlearn-Saliency#33). Default: off, the Comparator's, which masks only the gradient.")]
    public bool FreezeMasked { get; set; }

    [Option("kd-temperature", HelpText = "scrub only: distillation temperature. Default: 2.")]
    public float? KdTemperature { get; set; }

    [Option("scrub-alpha", HelpText = "scrub only: weight of the distillation loss. Default: 0.5.")]
    public float? ScrubAlpha { get; set; }

    [Option("scrub-gamma", HelpText = "scrub only: weight of the retain cross-entropy. Default: 1.")]
    public float? ScrubGamma { get; set; }

    [Option("msteps", HelpText = "scrub only: the forget (max) pass runs in epochs before this one. Default: 100.")]
    public int? MSteps { get; set; }

    [Option("fisher-samples", HelpText = "scrub only: retain samples the Fisher information is measured on. Default: 1000.")]
    public int? FisherSamples { get; set; }

    [Option("ssd-alpha", HelpText = "ssd, lfssd only: selection weighting alpha, a parameter is dampened where its forget importance exceeds alpha times its full importance. Default: 10.")]
    public double? SsdAlpha { get; set; }

    [Option("ssd-lambda", HelpText = "ssd, lfssd only: dampening constant lambda, a selected parameter is multiplied by min(1, lambda full importance / forget importance). Default: 1.")]
    public double? SsdLambda { get; set; }

    [Option("l1-alpha", HelpText = "l1sparse only: weight of the l1 penalty in the first epoch, decaying linearly to 0. Default: 0.0001.")]
    public double? L1Alpha { get; set; }

    [Option("train-last", HelpText = "cfk and euk only: stages trained, counted from the end (1: layer4 and fc; 0: fc only); the rest is frozen. Default: 1.")]
    public int? TrainLast { get; set; }

    [Option("retain-fraction", HelpText = "badteacher only: the fraction of the retain set distilled with the forget set. Default: 0.3.")]
    public double? RetainFraction { get; set; }

    [Option("kl-temperature", HelpText = "badteacher only: the distillation temperature. Default: 1.")]
    public double? KlTemperature { get; set; }

    [Option("device", HelpText = DeviceChoice.SeveralHelp)]
    public string? Device { get; set; }

    [Option("json", HelpText = "Write the model card's report (test set: forget and retain accuracy and loss, per-class accuracy, confusion matrix; an array with all) as JSON here. The whole run report is --report-json's.")]
    public string? Json { get; set; }

    [Option("confusion", HelpText = "Draw the confusion matrix here (.svg or .png; with all, one per class). Default: next to the model, as .svg.")]
    public string? Confusion { get; set; }

    [Option("eval-batch-size", Default = 500, HelpText = "Images per batch when evaluating (eval mode: the results do not depend on it beyond rounding). The default is ours.")]
    public int EvalBatchSize { get; set; }

    [Option("limit", HelpText = DataChoice.LimitHelp)]
    public int? Limit { get; set; }

    [Option("max-steps", HelpText = "Stop after N unlearning steps in all (a quick trial; the card runs a whole epoch).")]
    public int? MaxSteps { get; set; }

    [Option("resume", HelpText = "Skip the classes whose model and report are already written (continues an interrupted --forget-class all); their manifests must record the same options.")]
    public bool Resume { get; set; }

    [Option("force", HelpText = PlanChecks.ForceHelp)]
    public bool Force { get; set; }

    [Option("retrained", Default = "auto", HelpText = RunEvaluation.RetrainedHelp)]
    public string Retrained { get; set; } = "auto";

    [Option("report-json", HelpText = "Where to write the whole run report (both splits, base/unlearned/retrained, every metric with its interval, gaps). Default: the model's name with .report.json for .pth; with all, one per model. " + RunEvaluation.MetricsHelp)]
    public string? ReportJson { get; set; }

    [Option("below-logits", Default = "probe,relearn,cka", HelpText = RunEvaluation.BelowLogitsHelp)]
    public string BelowLogits { get; set; } = "probe,relearn,cka";

    [Option("no-cache", HelpText = RunEvaluation.NoCacheHelp)]
    public bool NoCache { get; set; }

    [Option("mia-split", Default = "salun", HelpText = MiaSplitNames.Help)]
    public string MiaSplit { get; set; } = "salun";

    [Option("bootstrap", Default = 1000, HelpText = RunEvaluation.BootstrapHelp)]
    public int Bootstrap { get; set; }

    [Option("collapse-threshold", Default = RunReport.DefaultCollapseThreshold, HelpText = RunEvaluation.CollapseHelp)]
    public double CollapseThreshold { get; set; }
}

/// <summary>
/// unlearn: 1. check every option, class name, device and output location (<see cref="Plan"/>); 2. load the data and the
/// weights; 3. per class, on the next free device, <see cref="UnlearnClass"/>; 4. the card's table and the run's report.
/// </summary>
internal static class UnlearnCommand
{
    public static int Run(UnlearnOptions o)
    {
        var timeline = PhaseTimeline.FromProcessStart();
        var (plan, method, evaluationSettings) = Plan(o);
        using var cancel = new Cancellation();
        var written = new WrittenFiles();
        try
        {
            var reports = new UnlearningReport?[plan.Classes.Count];
            var runReports = new RunReport?[plan.Classes.Count];
            for (int i = 0; i < plan.Classes.Count; i++)
            {
                var done = plan.Classes[i];
                if (!plan.Resume || !done.Done) continue;
                CheckResumable(done, o, JobMethod(method, done));
                Console.Error.WriteLine($"class {done.ForgetClass} ({plan.ClassNames[done.ForgetClass]}){SeedWords(done)}: {done.Model} is written (--resume), skipped");
                if (plan.SeedsReports is not null) runReports[i] = ReadRunReportBack(RunReportPath(o, done.Model!, done.ForgetClass, plan.Classes.Select(c => c.ForgetClass).Distinct().Count() > 1, done.Seed), done.Model!);
                // The card's report from its file, else (one class without --json) from the run report read back for the seeds.
                reports[i] = done.Report is not null ? ReportOutputs.ReadBack(done.Report, done.Model) : runReports[i]?.Card;
            }
            var toRun = plan.Classes.Select((outputs, index) => (Index: index, Outputs: outputs)).Where(c => plan.ToRun.Contains(c.Outputs)).ToList();
            if (toRun.Count > 0)
            {
                timeline.Close("start-up and checks");
                // The weights first: a wrong file fails in a second, not after the data (or its download).
                var (weights, weightsPath) = DataChoice.LoadWeights(plan.WeightsPath, cancel.Token);
                DataChoice.CheckWeightsFitDataset(weights, weightsPath, plan.Dataset, plan.ClassNames.Count, plan.Mean, plan.Std);
                var data = DataChoice.LoadData(plan, cancel.Token, out string? dataPath);
                (data, var config) = DataChoice.FitModel(data, weights, weightsPath, plan.Mean, plan.Std);
                var baseState = weights.Tensors.ToDictionary(t => t.CanonicalName, t => (float[])t.Values.Clone());
                int batch = Math.Min(method.BatchSize, data.Train.Count), evalBatch = Math.Min(o.EvalBatchSize, data.Test.Count);
                int maxBatch = Math.Max(batch, evalBatch);
                DeviceChoice.CheckMemory(plan.Devices, config, maxBatch, training: true, batch >= evalBatch ? "--batch-size" : "--eval-batch-size",
                    typed: batch >= evalBatch ? method.BatchSize : o.EvalBatchSize,
                    what: $"training batch {batch} (--batch-size) and evaluation batch {evalBatch} (--eval-batch-size), the network sized for {maxBatch},");
                // A set smaller than --batch-size (a --limit trial) is one batch.
                timeline.Close("load data and weights");
                var run = new ClassRun(data, baseState, weights, method.WithBatchSize(batch), written, o, evaluationSettings,
                    weightsPath, dataPath, timeline, plan.Classes.Select(c => c.ForgetClass).Distinct().Count() > 1,
                    toRun.GroupBy(j => j.Outputs.ForgetClass).ToDictionary(g => g.Key, g => g.Count()));
                DeviceWorkers.Run(plan.Devices, plan.DefaultDevice, toRun, ops => new ResNet18(ops, config, maxBatch),
                    (model, job, device, label, token) => (reports[job.Index], runReports[job.Index]) = UnlearnClass(model, job.Outputs, run, device, label, token),
                    cancel.Token);
            }

            if (plan.Classes.Count > 1)
            {
                Console.WriteLine();
                Console.WriteLine(ModelCardTable.Table(plan.Classes.Select((c, i) => (reports[i]!, (string?)Path.GetFileName(c.Model)))));
            }
            bool severalClasses = plan.Classes.Select(c => c.ForgetClass).Distinct().Count() > 1;
            if (plan.Json is not null && severalClasses) ReportOutputs.WriteJson(plan.Json, reports.Select(r => r!).ToList(), written);
            // Last, so that the seeds' merged table ends the output.
            if (plan.SeedsReports is not null) WriteSeedsReports(plan, runReports, written);
            return 0;
        }
        catch (OperationCanceledException e) when (e is not RunInterruptedException)
        {
            throw written.Interrupted(plan.Classes.Count > 1 && written.Count > 0 ? "rerun the same command with --resume to continue" : null);
        }
        catch (Exception) when (written.Count > 0)
        {
            Console.Error.WriteLine($"written before the failure: {written}");
            throw;
        }
    }

    /// <summary>The method of one job: the run's, with the job's seed where --seeds gave one.</summary>
    static MethodChoice JobMethod(MethodChoice method, ClassOutputs job) => job.Seed is int seed ? method.WithSeed(seed) : method;

    /// <summary>" seed 2" for a job of --seeds, else "".</summary>
    static string SeedWords(ClassOutputs job) => job.Seed is int seed ? $" seed {seed}" : "";

    /// <summary>A seed's run report written by an earlier run (--resume), for the merge over seeds.</summary>
    static RunReport ReadRunReportBack(string path, string model)
    {
        try
        {
            return RunReportJson.ReadAll(path)[0];
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{path}: cannot read this run report back to merge the seeds (--resume): {UserFacing.Message(e)}; delete it and {model} to run that seed again");
        }
    }

    /// <summary>
    /// Per forget class, its seeds' run reports merged (<see cref="SeedsReport.Merge"/>): written to the class's .seeds.json and
    /// printed as a table.
    /// </summary>
    static void WriteSeedsReports(RunPlan plan, RunReport?[] runReports, WrittenFiles written)
    {
        foreach (var (k, path) in plan.SeedsReports!.OrderBy(p => p.Key))
        {
            var runs = plan.Classes.Select((c, i) => (c, i)).Where(x => x.c.ForgetClass == k).Select(x => runReports[x.i]!).ToList();
            var merged = SeedsReport.Merge(runs);
            SeedsReportJson.Write(path, [merged]);
            written.Add(path);
            Console.WriteLine();
            Console.WriteLine(SeedsReportText.Format(merged));
            Console.Error.WriteLine($"seeds report: {Path.GetFullPath(path)}");
        }
    }

    /// <summary>What every class of a run shares: the data, the base model's values (never changed), the file template, the settings.</summary>
    /// <param name="JobsPerClass">How many jobs (seeds) of each class this run has to do: the retrained outputs of a class are
    /// kept until its last job has taken them.</param>
    sealed record ClassRun(DatasetSplit Data, IReadOnlyDictionary<string, float[]> BaseState, Weights.ResNet18.ResNet18Weights Template,
        MethodChoice Method, WrittenFiles Written, UnlearnOptions Options, EvaluationSettings Evaluation,
        string WeightsPath, string? DataPath, PhaseTimeline Loaded, bool Several, IReadOnlyDictionary<int, int> JobsPerClass)
    {
        (SampleOutputs Train, SampleOutputs Test, PhaseRecord Phase)? baseOutputs;
        readonly Dictionary<int, Lazy<RetrainedReference>> retrained = [];
        readonly Dictionary<int, int> retrainedUsesLeft = new(JobsPerClass);
        readonly Dictionary<int, string> basePrinted = [];

        /// <summary>
        /// Null for the first job of class <paramref name="k"/> to ask (it prints the base model's block); for the class's later
        /// jobs (--seeds) the words naming the job that printed it (" seed 0"), so that each seed does not reprint the same block.
        /// </summary>
        public string? BasePrintedBy(int k, string job)
        {
            lock (basePrinted)
            {
                if (basePrinted.TryGetValue(k, out var first)) return first;
                basePrinted[k] = job;
                return null;
            }
        }

        /// <summary>Whether the evaluation outputs keep the pooled features: only for --below-logits' linear probe.</summary>
        public bool KeepsFeatures => RunEvaluation.KeepsFeatures(RunEvaluation.ParseBelowLogits(Options.BelowLogits), 0);

        /// <summary>The base model's outputs on both splits, forwarded once per run (by the first class that needs them).</summary>
        public (SampleOutputs Train, SampleOutputs Test, PhaseRecord Phase) BaseOutputs(ResNet18 model, string? label, CancellationToken cancel, out bool forwarded)
        {
            lock (BaseState)
            {
                forwarded = baseOutputs is null;
                if (baseOutputs is { } known) return known;
                baseOutputs = RunEvaluation.ForwardCached(model, WeightsPath, Data, "base model", RunEvaluation.Cache(Options.NoCache),
                    () => ModelState.Load(model, BaseState), cancel, label, KeepsFeatures);
                return baseOutputs.Value;
            }
        }

        /// <summary>
        /// The retrained reference of class <paramref name="k"/> and its outputs on both splits, found and forwarded (or read from
        /// the outputs cache) by the first job (seed) of the class and kept for its other seeds, then let go. Classes on other
        /// devices are not held up: each class waits only for its own reference.
        /// </summary>
        public RetrainedReference RetrainedOutputs(ResNet18 model, int k, string? label, CancellationToken cancel)
        {
            Lazy<RetrainedReference>? entry;
            bool first;
            lock (retrained)
            {
                first = !retrained.TryGetValue(k, out entry);
                if (first)
                {
                    entry = new Lazy<RetrainedReference>(() =>
                    {
                        string? path = RunEvaluation.RetrainedPath(Options.Retrained, Options.Weights is not null, Data.Train.ClassNames[k], cancel);
                        if (path is null) return new RetrainedReference(null, null, null, null, Forwarded: false);
                        var (train, test, phase) = RunEvaluation.ForwardFile(model, path, Data, "retrained", cancel, label, RunEvaluation.Cache(Options.NoCache), KeepsFeatures);
                        return new RetrainedReference(path, train, test, phase, Forwarded: true);
                    }, LazyThreadSafetyMode.ExecutionAndPublication);
                    retrained[k] = entry;
                }
                if (--retrainedUsesLeft[k] <= 0) retrained.Remove(k);   // the class's last job: not kept after it
            }
            return first ? entry!.Value : entry!.Value with { Forwarded = false };
        }
    }

    /// <summary>A class's retrained model (null path: none) and its outputs; <paramref name="Forwarded"/>: this job read or forwarded them.</summary>
    sealed record RetrainedReference(string? Path, SampleOutputs? Train, SampleOutputs? Test, PhaseRecord? Phase, bool Forwarded);

    /// <summary>
    /// Unlearns one class from the base model, evaluates the base, unlearned and retrained models on both splits (one forward
    /// pass each), writes the class's pictures and reports, then its model, then its manifest; returns the card's report.
    /// </summary>
    static (UnlearningReport Card, RunReport Run) UnlearnClass(ResNet18 model, ClassOutputs outputs, ClassRun run, DeviceSpec spec, string? device, CancellationToken cancel)
    {
        int k = outputs.ForgetClass;
        var names = run.Data.Train.ClassNames;
        var method = JobMethod(run.Method, outputs);
        var evaluationSettings = outputs.Seed is int seed ? run.Evaluation with { Seed = seed } : run.Evaluation;
        string? label = device is null ? null : $"{device} class {k}{SeedWords(outputs)}";
        string prefix = label is null ? "" : $"[{label}] ";
        string modelPath = outputs.Model!, modelName = Path.GetFileName(modelPath), baseName = Path.GetFileName(run.WeightsPath);
        // Every second from the process start to this class's manifest is in one of its phases.
        var phases = run.Loaded.Fork();
        phases.Close(run.Several ? "open the device, build the model, earlier classes on it" : "open the device and build the model");

        // The references: the base model (once per run) and the model retrained without class k (when there is one).
        var baseOutputs = run.BaseOutputs(model, label, cancel, out bool forwarded);
        phases.Close(forwarded ? "forward base model" : "base model's outputs (forwarded by an earlier class)", forwarded ? baseOutputs.Phase.Images : null);
        // The retrained reference: found and forwarded once per class (the first of its seeds), kept for the other seeds.
        var retrainedOutputs = run.RetrainedOutputs(model, k, label, cancel);
        string? retrainedPath = retrainedOutputs.Path;
        phases.Close(retrainedPath is null ? "find the retrained reference"
            : retrainedOutputs.Forwarded ? "find, read and forward the retrained model" : "retrained model's outputs (forwarded by an earlier seed)",
            retrainedOutputs.Forwarded ? retrainedOutputs.Phase!.Images : null);
        var baseEvaluation = RunEvaluation.Metrics(baseName, "base", baseOutputs.Train, baseOutputs.Test, k, retrainedOutputs.Train, evaluationSettings, cancel, label, phases, run.WeightsPath);
        var baseReport = RunReport.Create("base", baseName, k, names, null, baseEvaluation, null, null, evaluationSettings);
        baseReport.Evaluation.Verdict = null; // judged against the retrained model in the run's report, after unlearning
        // The base model is the same for every seed of a class: its block once (the first seed), later seeds one line.
        if (run.BasePrintedBy(k, SeedWords(outputs)) is { } printedBy)
            Console.WriteLine($"\nbase model, before unlearning: as printed above for class {k} ({names[k]}){printedBy} (the same model and images for every seed)");
        else
            RunEvaluation.PrintBase(baseOutputs.Test.CardReport(k, names), baseName, baseReport);

        // The method and its settings: "forgetting class 3 (cat) with SCRUB: 5 epoch(s) ...".
        Console.Error.WriteLine($"{prefix}forgetting class {k} ({names[k]}) with {method.Name}: {method}");
        ModelState.Load(model, run.BaseState);
        phases.Close("print the base model's report");
        var (stepsTaken, images) = method.Run(model, run.Data.Train, k, p => ProgressLine.Show(p, label), cancel,
            line => { ProgressLine.Finish(); Console.Error.WriteLine($"{prefix}{line}"); });
        ProgressLine.Finish();
        phases.Close("unlearning", images);

        // Evaluate exactly what is written (float16 weights stay float16), and refuse a model that is not finite.
        var asWritten = ModelFiles.RoundToFile(model, run.Template);
        var unlearned = RunEvaluation.Forward(model, run.Data, "unlearned model", cancel, label, run.KeepsFeatures);
        phases.Close("round to the file's dtypes and forward the unlearned model", unlearned.Phase.Images);
        var report = unlearned.Test.CardReport(k, names);
        ModelFiles.EnsureFinite(asWritten, report);
        var evaluation = RunEvaluation.Metrics(modelName, "unlearned", unlearned.Train, unlearned.Test, k, retrainedOutputs.Train, evaluationSettings, cancel, label, phases);
        var retrained = retrainedPath is null ? null
            : RunEvaluation.Metrics(Path.GetFileName(retrainedPath), "retrained", retrainedOutputs.Train!, retrainedOutputs.Test!, k, retrainedOutputs.Train, evaluationSettings, cancel, label, phases, retrainedPath);
        var below = RunEvaluation.ComputeBelowLogits(model.Ops, model.Config, run.Data, k, RunEvaluation.ParseBelowLogits(run.Options.BelowLogits),
            [("unlearned", asWritten, unlearned.Train, unlearned.Test), ("base", run.Template, baseOutputs.Train, baseOutputs.Test),
             ("retrained", retrainedPath is null ? null : ModelFiles.Read(retrainedPath), retrainedOutputs.Train, retrainedOutputs.Test)],
            baseEvaluation.Test.ForgetAccuracy, cancel, label, phases);
        var runReport = RunReport.Create(method.Name, modelName, k, names, report, evaluation, baseEvaluation, retrained, evaluationSettings,
            run.Options.CollapseThreshold, below);
        runReport.Settings = RunSettings(run.Options, method);

        // Pictures and reports first, then the model, then the manifest that hashes them all.
        ReportOutputs.WriteClass(outputs, report, run.Written);
        string reportPath = RunReportPath(run.Options, modelPath, k, run.Several, outputs.Seed);
        RunReportJson.Write(reportPath, [runReport]);
        run.Written.Add(reportPath);
        phases.Close("write the report and pictures");
        asWritten.Save(modelPath);
        run.Written.Add(modelPath);
        phases.Close("save model");
        string manifestPath = WriteManifest(run, method, DeviceChoice.Describe(spec, model.Ops), k, stepsTaken, retrainedPath, modelPath, reportPath, outputs.Pictures, phases);
        run.Written.Add(manifestPath);

        ReportOutputs.Print(report, modelName, $"model: {Path.GetFullPath(modelPath)}", $"run report: {Path.GetFullPath(reportPath)}",
            $"manifest: {Path.GetFullPath(manifestPath)}");
        RunEvaluation.Print(runReport);
        return (report, runReport);
    }

    /// <summary>
    /// The run report's path: --report-json (with _k before the extension when a run has several classes, then _s&lt;seed&gt;
    /// with --seeds), else the model's name (which holds both) with .report.json for its extension.
    /// </summary>
    static string RunReportPath(UnlearnOptions o, string modelPath, int k, bool several, int? seed)
    {
        if (o.ReportJson is null) return Path.ChangeExtension(modelPath, ".report.json");
        string path = several ? ReportOutputs.WithSuffix(o.ReportJson, $"_{k}") : o.ReportJson;
        return seed is int s ? SeedsOption.Named(path, s) : path;
    }

    /// <summary>The run manifest beside the model: hashes of inputs and outputs, every setting, device, version, phases.</summary>
    static string WriteManifest(ClassRun run, MethodChoice method, string device, int k, int steps, string? retrainedPath, string modelPath, string reportPath,
        IReadOnlyList<string> pictures, PhaseTimeline phases)
    {
        var o = run.Options;
        string manifestPath = RunManifestJson.PathFor(modelPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(manifestPath)) ?? ".";
        static string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        var inputs = FileDigest.Records("weights", run.WeightsPath, folder).ToList();
        if (run.DataPath is not null) inputs.AddRange(FileDigest.Records("data", run.DataPath, folder));
        if (retrainedPath is not null) inputs.AddRange(FileDigest.Records("retrained", retrainedPath, folder));
        var outputs = new List<FileRecord> { FileDigest.Record("model", modelPath, folder), FileDigest.Record("report", reportPath, folder) };
        foreach (var picture in pictures.Where(File.Exists)) outputs.Add(FileDigest.Record("confusion", picture, folder));
        phases.Close("hash inputs and outputs for the manifest");
        var manifest = new RunManifest
        {
            WallSeconds = phases.WallSeconds,
            Version = RunEvaluation.Version,
            Command = [.. Environment.GetCommandLineArgs().Skip(1)],   // [0] is the program; the verb is [1]
            Device = device,
            Machine = Inv($"{Environment.MachineName}, {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}"),
            CreatedUtc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Settings = RunSettings(o, method),
        };
        manifest.Settings["forget_class"] = Inv($"{k}");
        manifest.Settings["steps_taken"] = Inv($"{steps}");
        manifest.Inputs.AddRange(inputs);
        manifest.Outputs.AddRange(outputs);
        manifest.Phases.AddRange(phases.Phases);
        RunManifestJson.Write(manifestPath, manifest);
        return manifestPath;
    }

    /// <summary>The settings a manifest records that are the same for every class of a run (every option that changes a result).</summary>
    static SortedDictionary<string, string> RunSettings(UnlearnOptions o, MethodChoice method)
    {
        static string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["dataset"] = o.Dataset, ["limit"] = o.Limit is { } l ? Inv($"{l}") : "none", ["mean"] = o.Mean ?? "default", ["std"] = o.Std ?? "default",
            ["eval_batch_size"] = Inv($"{o.EvalBatchSize}"), ["bootstrap"] = Inv($"{o.Bootstrap}"), ["collapse_threshold"] = Inv($"{o.CollapseThreshold}"),
            ["below_logits"] = o.BelowLogits, ["retrained"] = o.Retrained,
        };
        foreach (var (key, value) in method.ManifestEntries()) settings[key] = value;
        return settings;
    }

    /// <summary>
    /// --resume keeps a written class only when its manifest records this run's options (as train --resume requires its
    /// checkpoint's recipe): every setting but the class and the steps taken, and the SHA-256 of --weights. The batch size is
    /// the one exception where --limit is given: a batch larger than the subset runs as the whole subset, and the manifest
    /// records that smaller batch.
    /// </summary>
    static void CheckResumable(ClassOutputs done, UnlearnOptions o, MethodChoice method)
    {
        string model = done.Model!, manifestPath = RunManifestJson.PathFor(model);
        string again = "delete its files to run the class again, or rerun without --resume (and with --force) to run every class again";
        if (!File.Exists(manifestPath))
            throw new UserError($"--resume: {model} has no manifest ({manifestPath}) to check its options against; {again}");
        RunManifest manifest;
        try { manifest = RunManifestJson.Read(manifestPath); }
        catch (Exception e) when (e is System.Text.Json.JsonException or IOException)
        { throw new UserError($"--resume: {manifestPath}: cannot read it ({UserFacing.Message(e)}); {again}"); }
        var now = RunSettings(o, method);
        var differences = new List<string>();
        foreach (string key in now.Keys.Union(manifest.Settings.Keys).Where(key => key is not ("forget_class" or "steps_taken")).Order(StringComparer.Ordinal))
        {
            string? before = manifest.Settings.GetValueOrDefault(key), after = now.GetValueOrDefault(key);
            if (before == after) continue;
            if (key == "batch_size" && o.Limit is not null && int.TryParse(before, out int b) && int.TryParse(after, out int a) && b < a) continue;
            differences.Add($"{key} {before ?? "(not set)"} -> {after ?? "(not set)"}");
        }
        if (o.Weights is not null)
        {
            var recorded = manifest.Inputs.FirstOrDefault(i => i.Role == "weights");
            if (recorded is not null && recorded.Sha256 != FileDigest.Sha256(o.Weights))
                differences.Add($"--weights {o.Weights} is not the file the class was unlearned from ({recorded.Path})");
        }
        if (differences.Count > 0)
            throw new UserError($"--resume: {model} was made with other options ({string.Join("; ", differences)}); use the same options, or {again}");
    }

    /// <summary>Every check, before anything is loaded: options, class names, devices, and every output location (folders created).</summary>
    static (RunPlan Plan, MethodChoice Method, EvaluationSettings Evaluation) Plan(UnlearnOptions o)
    {
        var method = MethodChoice.FromOptions(o);
        PlanChecks.AtLeast(o.EvalBatchSize, 1, "--eval-batch-size");
        var seeds = SeedsOption.Parse(o.Seeds);
        if (seeds is not null && o.Seed is not null) throw new UserError("--seed and --seeds: give one (--seeds 0,1,2 runs each seed; --seed N one run)");
        if (seeds is not null) SeedsOption.CheckMethodDraws(method);

        var kind = PlanChecks.Dataset(o.Dataset);
        var names = DatasetLoader.ClassNames(kind);
        var classes = PlanChecks.ForgetClasses(o.ForgetClass, names);
        bool several = classes.Length > 1;
        var (devices, isDefault) = PlanChecks.Devices(o.Device, allowSeveral: several || seeds is { Length: > 1 });
        DataChoice.CheckData(kind, o.Data);
        PlanChecks.InputPath(o.Weights, "--weights");
        DataChoice.RequireWeights(kind, o.Weights);
        DataChoice.CheckNormalization(o.Mean, o.Std);
        var evaluation = RunEvaluation.Settings(o.Bootstrap, o.Seed ?? 0, o.MiaSplit);
        RunEvaluation.CheckRetrainedOption(o.Retrained);
        RunEvaluation.ParseBelowLogits(o.BelowLogits);
        if (o.ReportJson is not null) PlanChecks.OutputFile(o.ReportJson, "--report-json");

        // Every output is named after its model: <dataset>_resnet18_<Method>_<k>.pth and beside it <same>.card.json,
        // .report.json, .manifest.json, .confusion.svg (README, "Output files"); the dataset as --dataset names it.
        string dataset = o.Dataset.ToLowerInvariant();
        // With --seeds each class runs once per seed, every output of a seed named with _s<seed> (before the extension of the
        // model and of a file named by an option), and the class's merged report beside the unseeded model name as .seeds.json.
        var outputs = new List<ClassOutputs>();
        var seedsReports = seeds is null ? null : new Dictionary<int, string>();
        int?[] runSeeds = seeds is null ? [null] : [.. seeds.Select(s => (int?)s)];
        static string Seeded(string path, int? seed) => seed is int s ? SeedsOption.Named(path, s) : path;
        if (several)
        {
            if (o.Out is not null && Path.HasExtension(o.Out))
                throw new UserError($"--out {o.Out}: with --forget-class all, --out is a folder");
            string folder = PlanChecks.OutputFolder(o.Out ?? ".", "--out");
            if (o.Confusion is not null) PlanChecks.OutputFile(o.Confusion, "--confusion", PlanChecks.PictureExtensions);
            foreach (int k in classes)
            {
                string unseeded = Path.Combine(folder, ModelCardTable.ModelName(k, dataset, method: method.Name));
                seedsReports?.Add(k, Path.ChangeExtension(unseeded, ".seeds.json"));
                foreach (int? seed in runSeeds)
                {
                    string model = Seeded(unseeded, seed);
                    string picture = o.Confusion is null ? Path.ChangeExtension(model, ".confusion.svg") : Seeded(ReportOutputs.WithSuffix(o.Confusion, $"_{k}"), seed);
                    outputs.Add(new ClassOutputs(k, model, Path.ChangeExtension(model, ".card.json"), [picture], seed));
                }
            }
        }
        else
        {
            string unseeded = PlanChecks.OutputFile(o.Out ?? ModelCardTable.ModelName(classes[0], dataset, method: method.Name), "--out", PlanChecks.ModelExtensions);
            string unseededPicture = PlanChecks.OutputFile(o.Confusion ?? Path.ChangeExtension(unseeded, ".confusion.svg"), "--confusion", PlanChecks.PictureExtensions);
            seedsReports?.Add(classes[0], Path.ChangeExtension(unseeded, ".seeds.json"));
            foreach (int? seed in runSeeds)
            {
                string model = Seeded(unseeded, seed);
                string picture = o.Confusion is null ? Path.ChangeExtension(model, ".confusion.svg") : Seeded(unseededPicture, seed);
                outputs.Add(new ClassOutputs(classes[0], model, o.Json is null ? null : Seeded(o.Json, seed), [picture], seed));
            }
        }
        if (o.Json is not null) PlanChecks.OutputFile(o.Json, "--json");
        // Nothing is replaced unasked; with --resume a finished class is kept and an unfinished one's leftovers are replaced.
        if (!o.Resume)
        {
            foreach (var c in outputs)
            {
                PlanChecks.NotReplacing(c.Model!, several ? "a model in --out" : "--out", o.Force);
                if (c.Report is not null) PlanChecks.NotReplacing(c.Report, several ? "a report in --out" : "--json", o.Force);
                foreach (var picture in c.Pictures) PlanChecks.NotReplacing(picture, "--confusion", o.Force);
                PlanChecks.NotReplacing(RunReportPath(o, c.Model!, c.ForgetClass, several, c.Seed), "--report-json", o.Force);
                PlanChecks.NotReplacing(RunManifestJson.PathFor(c.Model!), "the manifest beside --out", o.Force);
            }
            if (several && o.Json is not null) PlanChecks.NotReplacing(o.Json, "--json", o.Force);
        }
        // The merged report is rewritten from every seed's report, so --resume replaces it too.
        foreach (var path in seedsReports?.Values.ToList() ?? []) PlanChecks.NotReplacing(path, "the seeds report beside --out", o.Force || o.Resume);
        var limit = DataChoice.CheckLimit(o.Limit, names.Count);
        PlanChecks.CreateFolders();

        var plan = new RunPlan
        {
            Dataset = kind, DataPath = o.Data, WeightsPath = o.Weights, ClassNames = names, Classes = outputs,
            Devices = devices, DefaultDevice = isDefault, Json = o.Json, Resume = o.Resume,
            Limit = limit, Mean = o.Mean, Std = o.Std, SeedsReports = seedsReports,
        };
        return (plan, method, evaluation);
    }
}
