using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Download;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Probes;
using IlgpuUnlearn.Manifest;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Weights.ResNet18;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// The evaluation shared by unlearn and eval: one forward pass per image of both splits per model (outputs kept for every
/// metric), the retrained reference (a file, or the published one downloaded into the cache), the run report printed and
/// written, and the version recorded in manifests.
/// </summary>
internal static class RunEvaluation
{
    public const string RetrainedHelp = "The model retrained without the forget class, the reference the gap, Avg. Gap and FQS are measured against: " +
        "a file, 'published' (resnet18_cifar10_no_<class>.pth from jaeunglee/resnet18-cifar10-unlearning, downloaded once into the cache), " +
        "'none', or 'auto' (published when --weights is not given, i.e. for the published base model; else none).";
    public const string BootstrapHelp = "Bootstrap resamples for the 95% intervals (0: none); the loss attack and FQS use at most 200. The default is ours (a common count for " +
        "percentile intervals); the peers report no intervals.";
    public const string CollapseHelp = "Flag a retain class whose test accuracy falls more than this many points below the base model's. The default is ours; no peer flags collapse.";
    public const string MetricsHelp = "Metrics: Comparator UA/RA/TUA/TRA/FQS (gnueaj/Machine-Unlearning-Comparator), SalUn UA/RA/TA and MIA-efficacy " +
        "(OPTML-Group/Unlearn-Saliency, SVC_MIA: RBF SVC C=3 gamma auto on the true-class probability), the loss attack of the NeurIPS 2023 " +
        "unlearning challenge's starting kit and SCRUB (logistic regression, 10 stratified splits).";

    public const string BelowLogitsHelp = "With a forget class, the figures below the logits, comma-separated: probe (a linear probe on the penultimate " +
        "features, fitted on the training split), relearn (SGD steps on 1% of the forget class until half the base model's forget test accuracy), " +
        "cka (linear CKA per stage between every two models on the Comparator's splits); 'none' for none. Each model's verdict against the " +
        "retrained model is always given. The default (all three) is ours.";

    /// <summary>--below-logits: the parts to compute, or null for none.</summary>
    public static BelowLogitsSettings? ParseBelowLogits(string value)
    {
        var parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => p.ToLowerInvariant()).ToArray();
        if (parts is ["none"]) return null;
        foreach (var part in parts)
            if (part is not ("probe" or "relearn" or "cka"))
                throw new UserError($"--below-logits {value}: '{part}' is not one of probe, relearn, cka (or none)");
        if (parts.Length == 0) throw new UserError("--below-logits: give probe, relearn, cka or none");
        return new BelowLogitsSettings { Probe = parts.Contains("probe"), Cka = parts.Contains("cka"), Relearn = parts.Contains("relearn") ? new RelearnSettings() : null };
    }

    /// <summary>Whether a run with --below-logits <paramref name="settings"/> and forget class <paramref name="forgetClass"/>
    /// keeps the pooled features in its evaluation outputs: only for the linear probe.</summary>
    public static bool KeepsFeatures(BelowLogitsSettings? settings, int? forgetClass) => forgetClass is not null && settings?.Probe == true;

    /// <summary>
    /// The probes, relearn times and CKA of the run's models (role, weights, the evaluation outputs of both splits; the first
    /// is the judged model; a null weights entry is left out), each loaded into models of their own on <paramref name="ops"/>
    /// where a part forwards (the probe does not where the outputs carry the pooled features); the parts close the current
    /// phase of <paramref name="timeline"/>. Null without settings.
    /// </summary>
    public static BelowLogits? ComputeBelowLogits(IOps ops, ResNet18Config config, DatasetSplit data, int forgetClass, BelowLogitsSettings? settings,
        IReadOnlyList<(string Role, ResNet18Weights? Weights, SampleOutputs? Train, SampleOutputs? Test)> models, double? baseForgetAccuracy,
        CancellationToken cancel, string? label = null, PhaseTimeline? timeline = null)
    {
        if (settings is null) return null;
        string prefix = label is null ? "" : $"[{label}] ";
        var given = models.Where(m => m.Weights is not null).Select(m => (m.Role, m.Weights!)).ToList();
        var outputs = models.Where(m => m.Weights is not null && m.Train is not null && m.Test is not null)
            .ToDictionary(m => m.Role, m => (m.Train!, m.Test!));
        string lastPart = "";
        var below = BelowLogits.Compute(ops, config, given, data, forgetClass, baseForgetAccuracy, settings, cancel, (part, done, total) =>
        {
            if (part != lastPart) { ProgressLine.Finish(); Console.Error.WriteLine($"{prefix}{part}"); lastPart = part; }
        }, outputs);
        foreach (var (part, seconds, _) in below.Times)
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{prefix}{part}: {seconds:F1} s"));
        timeline?.CloseAsParts(below.Times.Select(t => (t.Part, t.Seconds)), "below the logits: loading the models");
        return below;
    }

    /// <summary>The program's version with the commit it was built from (1.0.0+sha).</summary>
    public static string Version =>
        typeof(RunEvaluation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Both splits through the model as it is now: outputs (with the pooled features when <paramref name="features"/>) and the phase's time.</summary>
    /// <param name="label">Names the device and class on the progress line when several devices run at once.</param>
    public static (SampleOutputs Train, SampleOutputs Test, PhaseRecord Phase) Forward(ResNet18 model, DatasetSplit data, string what,
        CancellationToken cancel, string? label = null, bool features = false)
    {
        var clock = Stopwatch.StartNew();
        long images = data.Train.Count + data.Test.Count;
        Console.Error.WriteLine($"{(label is null ? "" : $"[{label}] ")}evaluating {what} on both splits");
        var train = Predictor.Outputs(model, data.Train, cancel, (done, _) => ProgressLine.ShowEvaluation(done, (int)images, clock.Elapsed, label), features);
        var test = Predictor.Outputs(model, data.Test, cancel, (done, _) => ProgressLine.ShowEvaluation(data.Train.Count + done, (int)images, clock.Elapsed, label), features);
        ProgressLine.Finish();
        double seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"evaluated {what}: {images:N0} images in {seconds:F1} s ({images / Math.Max(seconds, 1e-9):F0} images/s)"));
        return (train, test, new PhaseRecord($"forward {what}", seconds, images, images / Math.Max(seconds, 1e-9)));
    }

    /// <summary>
    /// The retrained reference's path for forget class <paramref name="className"/>, or null for none.
    /// <paramref name="option"/>: auto, published, none or a file (checked to exist).
    /// </summary>
    public static string? RetrainedPath(string option, bool weightsGiven, string className, CancellationToken cancel)
    {
        string value = option.Trim();
        bool published = value.ToLowerInvariant() switch
        {
            "none" => false,
            "published" => true,
            "auto" => !weightsGiven,
            _ => File.Exists(value) ? false : throw new UserError($"--retrained {value}: no such file (or use published, none, auto)"),
        };
        if (!published) return value is "none" or "auto" ? null : value;
        return Downloads.Ensure(DownloadSource.RetrainedModel(className), cancel);
    }

    /// <summary>Checks --retrained's value before any work.</summary>
    public static void CheckRetrainedOption(string option)
    {
        string value = option.Trim().ToLowerInvariant();
        if (value is "none" or "published" or "auto") return;
        if (!File.Exists(option)) throw new UserError($"--retrained {option}: no such file (or use published, none, auto)");
    }

    /// <summary>Loads <paramref name="path"/> into <paramref name="model"/> (which must have its width and classes) and forwards both splits (or reads the outputs from <paramref name="cache"/>).</summary>
    public static (SampleOutputs Train, SampleOutputs Test, PhaseRecord Phase) ForwardFile(ResNet18 model, string path, DatasetSplit data, string role,
        CancellationToken cancel, string? label = null, SampleOutputsCache? cache = null, bool features = false)
    {
        Console.Error.WriteLine($"{role} model: {Path.GetFullPath(path)}");
        return ForwardCached(model, path, data, role + " model", cache, () =>
        {
            var weights = ModelFiles.Read(path);
            if (weights.Width != model.Config.Width || weights.NumClasses != model.Config.Classes || weights.InputChannels != model.Config.InputChannels)
                throw new UserError($"{path}: the {role} model is a width-{weights.Width} ResNet18 with {weights.NumClasses} classes and {weights.InputChannels}-channel input; " +
                    $"the model judged is width {model.Config.Width} with {model.Config.Classes} and {model.Config.InputChannels}");
            ModelFiles.Load(model, weights);
        }, cancel, label, features);
    }

    /// <summary>The outputs cache of a run: none with --no-cache, else the default folder.</summary>
    public static SampleOutputsCache? Cache(bool noCache) => noCache ? null : new SampleOutputsCache(SampleOutputsCache.DefaultFolder());

    public const string NoCacheHelp = "Forward every model, neither reading nor keeping per-sample outputs in the cache (~/.cache/ilgpu-unlearn/outputs, keyed by the model file's SHA-256, the data, the normalisation and the device).";

    /// <summary>
    /// The outputs of the model file <paramref name="modelPath"/> on both splits: from <paramref name="cache"/> when it has
    /// them, else <paramref name="load"/> (puts the file's weights into <paramref name="model"/>) and <see cref="Forward"/>,
    /// kept in the cache afterwards (a cache that cannot be written is said once, not fatal). With <paramref name="features"/>
    /// the outputs carry the pooled penultimate features (for the linear probe), and a cached file without them is forwarded
    /// again and replaced.
    /// </summary>
    public static (SampleOutputs Train, SampleOutputs Test, PhaseRecord Phase) ForwardCached(ResNet18 model, string modelPath, DatasetSplit data, string what,
        SampleOutputsCache? cache, Action load, CancellationToken cancel, string? label = null, bool features = false)
    {
        if (cache is null)
        {
            load();
            return Forward(model, data, what, cancel, label, features);
        }
        var clock = Stopwatch.StartNew();
        string key = SampleOutputsCache.Key(Manifest.FileDigest.Sha256(modelPath), model.Config, model.Ops.Name, data);
        cancel.ThrowIfCancellationRequested();
        if (cache.TryRead(key, features) is { } kept)
        {
            Console.Error.WriteLine($"{(label is null ? "" : $"[{label}] ")}{what}: outputs from the cache ({cache.PathFor(key)}; --no-cache forwards again)");
            return (kept.Train, kept.Test, new PhaseRecord($"cached outputs of {what}", clock.Elapsed.TotalSeconds));
        }
        load();
        var result = Forward(model, data, what, cancel, label, features);
        try { cache.Write(key, result.Train, result.Test); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"outputs cache: {cache.Folder} cannot be written ({e.Message}); going on without it");
        }
        return result;
    }

    /// <summary>
    /// <see cref="ModelEvaluation.Compute"/> with its progress on stderr; with a <paramref name="timeline"/>, closes the
    /// phase as the metrics' parts ("metrics base: SVC attack", ...) and "metrics base: accuracies" for the rest.
    /// With <paramref name="file"/> (the model's file, when it exists), the evaluation records its SHA-256.
    /// </summary>
    public static ModelEvaluation Metrics(string model, string role, SampleOutputs train, SampleOutputs test, int? forgetClass,
        SampleOutputs? retrainedTrain, EvaluationSettings settings, CancellationToken cancel, string? label, PhaseTimeline? timeline, string? file = null)
    {
        string? sha256 = file is null ? null : Manifest.FileDigest.Sha256(file);
        var evaluation = ModelEvaluation.Compute(model, role, train, test, forgetClass, retrainedTrain, settings, cancel,
            ProgressLine.Metrics(role + " model", label));
        evaluation.Sha256 = sha256;
        ProgressLine.Finish();
        timeline?.CloseAsParts(evaluation.Timings.Select(t => ($"metrics {role}: {t.Part}", t.Seconds)), $"metrics {role}: accuracies");
        return evaluation;
    }

    public static EvaluationSettings Settings(int bootstrap, int seed, string miaSplit)
    {
        if (bootstrap < 0) throw new UserError($"--bootstrap must be 0 or more, got {bootstrap}");
        var split = MiaSplitNames.Parse(miaSplit) ?? throw new UserError($"--mia-split must be salun or whole-test, got '{miaSplit}'");
        return new EvaluationSettings { BootstrapReplicates = bootstrap, Seed = seed, MiaSplit = split };
    }

    /// <summary>Keeps a report's lines together when several devices finish at once.</summary>
    static readonly object ConsoleGate = new();

    public static void Print(RunReport report)
    {
        lock (ConsoleGate)
        {
            Console.WriteLine();
            Console.WriteLine(RunReportText.Format(report));
        }
    }

    /// <summary>The base model's card row and its figures, printed before unlearning starts.</summary>
    public static void PrintBase(UnlearningReport card, string baseName, RunReport report)
    {
        lock (ConsoleGate)
        {
            Console.WriteLine();
            Console.WriteLine("base model, before unlearning:");
            Console.WriteLine(ModelCardTable.Table([(card, baseName)]));
            Console.WriteLine();
            Console.WriteLine(RunReportText.Format(report));
        }
    }
}
