using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CommandLine;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.IO;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;

namespace IlgpuUnlearn.Cli.Commands;

[Verb("bench-eval", HelpText = "Time evaluation: inference of the full ResNet18 (evaluation mode, the path eval and unlearn use) in images/s " +
    "(compare with `bench/torch_peer.py eval`), and with --metrics every metric of one model at CIFAR-10 sizes (50,000 + 10,000 images) on synthetic outputs.")]
public sealed class BenchEvalOptions
{
    [Option("device", HelpText = DeviceChoice.Help)]
    public string? Device { get; set; }

    [Option("batch-size", Default = 256, HelpText = "Images per forward pass.")]
    public int BatchSize { get; set; }

    [Option("steps", Default = 5, HelpText = "Timed batches (after --warmup untimed ones).")]
    public int Steps { get; set; }

    [Option("warmup", Default = 1, HelpText = "Untimed batches first.")]
    public int Warmup { get; set; }

    [Option("metrics", HelpText = "Also time the metrics (SVC attack on 20,000 images, loss attack, privacy score, 1000 bootstrap resamples) at CIFAR-10 sizes.")]
    public bool Metrics { get; set; }

    [Option("metrics-only", HelpText = "With --metrics: skip the inference timing.")]
    public bool MetricsOnly { get; set; }

    [Option("svc-peer", HelpText = "With --metrics: after each SVC case run this scikit-learn peer script (bench/svc_peer.py) on the same features and print both times, the ratio, the efficacy and support-vector differences.")]
    public string? SvcPeer { get; set; }

    [Option("svc-cases", HelpText = "With --metrics: only these SVC cases (comma-separated: cifar10_confident, cifar10_mediocre, fashion_mnist_confident, fashion_mnist_mediocre; default all).")]
    public string? SvcCases { get; set; }

    [Option("svc-repeats", Default = 1, HelpText = "With --metrics: time each SVC case this many times, ours and the peer alternated; the ratio is of the sums.")]
    public int SvcRepeats { get; set; } = 1;

    [Option("python", Default = "/usr/bin/python3", HelpText = "The python that runs --svc-peer (one with scikit-learn).")]
    public string Python { get; set; } = "/usr/bin/python3";

    [Option("json", HelpText = "Also write the figures here (images_per_second, metrics_seconds, device).")]
    public string? Json { get; set; }
}

internal static class BenchEvalCommand
{
    public static int Run(BenchEvalOptions o)
    {
        PlanChecks.AtLeast(o.BatchSize, 1, "--batch-size");
        PlanChecks.AtLeast(o.Steps, 1, "--steps");
        PlanChecks.AtLeast(o.Warmup, 0, "--warmup");
        if ((o.MetricsOnly || o.SvcPeer is not null) && !o.Metrics) throw new UserError("--metrics-only and --svc-peer need --metrics");
        if (o.SvcPeer is not null && !File.Exists(o.SvcPeer)) throw new UserError($"--svc-peer {o.SvcPeer}: no such file");
        if (o.SvcRepeats < 1) throw new UserError("--svc-repeats must be at least 1");
        var svcCases = SvcBenchCases.All().ToArray();
        if (o.SvcCases is not null)
        {
            var names = o.SvcCases.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = names.Where(n => svcCases.All(c => c.Name != n)).ToArray();
            if (unknown.Length > 0) throw new UserError($"--svc-cases: no case named {string.Join(", ", unknown)} (cases: {string.Join(", ", svcCases.Select(c => c.Name))})");
            svcCases = svcCases.Where(c => names.Contains(c.Name)).ToArray();
        }
        var figures = new Dictionary<string, object>();
        Console.WriteLine($"cpu               {CpuModel()} ({Environment.ProcessorCount} logical CPUs)");
        if (!o.MetricsOnly)
        using (var ops = DeviceChoice.Open(o.Device))
        {
            using var model = new ResNet18(ops, ResNet18Config.Cifar10, o.BatchSize);
            RandomInit.Load(model, seed: 1);
            var random = new Random(1);
            ImageDataset Batches(int batches)
            {
                var pixels = new byte[(long)batches * o.BatchSize * Cifar10.ImageSize];
                random.NextBytes(pixels);
                var labels = new byte[batches * o.BatchSize];
                for (int i = 0; i < labels.Length; i++) labels[i] = (byte)random.Next(10);
                return new ImageDataset("random", pixels, labels, 3, 32, 32, Cifar10.ClassNames);
            }
            if (o.Warmup > 0) Predictor.Logits(model, Batches(o.Warmup));
            var timed = Batches(o.Steps);
            ops.Synchronize();
            var clock = Stopwatch.StartNew();
            Predictor.Logits(model, timed);
            double seconds = clock.Elapsed.TotalSeconds;
            double imagesPerSecond = timed.Count / seconds;
            Console.WriteLine($"device            {ops.Name} ({Environment.ProcessorCount} logical CPUs)");
            Console.WriteLine($"batch size        {o.BatchSize}, {o.Steps} timed batches");
            Console.WriteLine(Inv($"inference         {imagesPerSecond:F1} images/s ({2.0 * ResNet18Flops.ForwardMacsPerImage(model.Config) * imagesPerSecond / 1e9:F1} GFLOP/s)"));
            Console.WriteLine(Inv($"60,000 images     {60000 / imagesPerSecond:F0} s per model (both CIFAR-10 splits)"));
            figures["device"] = ops.Name;
            figures["batch_size"] = o.BatchSize;
            figures["steps"] = o.Steps;
            figures["seconds"] = seconds;
            figures["images_per_second"] = imagesPerSecond;
        }
        if (o.Metrics)
        {
            foreach (var svcCase in svcCases)
                figures["svc_" + svcCase.Name] = SvcBenchCases.Run(svcCase, o.SvcPeer, o.Python, o.SvcRepeats);
            var (train, test, retrained) = SyntheticOutputs(trainMargin: 9, testMargin: 6);
            figures["svc_seconds"] = TimeSvc("SVC attack       ", train, test);
            // A collapsed model (features dead after a destructive unlearning run): most images get the same logits, so
            // their true-class probabilities tie by the thousand.
            figures["svc_collapsed_seconds"] = TimeSvc("SVC, collapsed   ", CollapsedOutputs(5000), CollapsedOutputs(1000));
            var clock = Stopwatch.StartNew();
            var evaluation = ModelEvaluation.Compute("synthetic", "unlearned", train, test, 3, retrained, new EvaluationSettings());
            double seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(Inv($"metrics           {seconds:F1} s for one model at CIFAR-10 sizes (MIA-efficacy {evaluation.Metrics[ModelEvaluation.MiaEfficacy].Value:F2}%, loss attack {evaluation.Metrics[ModelEvaluation.LossMia].Value:F2}%, FQS {evaluation.Metrics[ModelEvaluation.Fqs].Value:F3})"));
            figures["metrics_seconds"] = seconds;
        }
        if (o.Json is not null) AtomicFile.WriteAllText(o.Json, JsonSerializer.Serialize(figures) + "\n");
        return 0;
    }

    /// <summary>The SVC attack on outputs at CIFAR-10 sizes (10,000 members, the 10,000 test images); prints and returns its seconds.</summary>
    static double TimeSvc(string label, SampleOutputs train, SampleOutputs test)
    {
        var clock = Stopwatch.StartNew();
        var members = train.IndicesOfClass(3, equal: false).Take(test.Count).Select(i => train.TrueClassProbability[i]).ToArray();
        var svc = Evaluation.Privacy.SvcMiaEfficacy.Compute(members, test.TrueClassProbability, train.IndicesOfClass(3).Select(i => train.TrueClassProbability[i]).ToArray());
        double seconds = clock.Elapsed.TotalSeconds;
        int distinct = members.Distinct().Count() + test.TrueClassProbability.Distinct().Count();
        Console.WriteLine(Inv($"{label} {seconds:F1} s ({members.Length + test.Count:N0} training points, {distinct:N0} distinct, {svc.Classifier.Iterations:N0} SMO iterations, {svc.Classifier.SupportVectorCount:N0} support vectors)"));
        return seconds;
    }

    /// <summary>
    /// Outputs shaped like a trained CIFAR-10 model's: 5,000 training and 1,000 test images per class, the true class's logit
    /// ahead by the margin (Gaussian spread 3 and 4); margins 9 and 6 are confident and mostly right.
    /// </summary>
    static (SampleOutputs Train, SampleOutputs Test, SampleOutputs Retrained) SyntheticOutputs(double trainMargin, double testMargin)
    {
        var random = new Random(3);
        SampleOutputs Make(int perClass, double margin, double spread)
        {
            var labels = new int[perClass * 10];
            var logits = new float[labels.Length * 10];
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = i % 10;
                for (int j = 0; j < 10; j++) logits[i * 10 + j] = (float)(1.5 * Gaussian(random));
                logits[i * 10 + labels[i]] += (float)(margin + spread * Gaussian(random));
            }
            return new SampleOutputs(labels, logits, 10);
        }
        return (Make(5000, trainMargin, 3), Make(1000, testMargin, 4), Make(5000, 1, 3));
    }

    /// <summary>Outputs of a collapsed model: 90% of the images get one logit vector, the rest that vector plus noise.</summary>
    static SampleOutputs CollapsedOutputs(int perClass)
    {
        var random = new Random(4);
        var shared = Enumerable.Range(0, 10).Select(_ => (float)Gaussian(random)).ToArray();
        var labels = new int[perClass * 10];
        var logits = new float[labels.Length * 10];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = i % 10;
            bool dead = random.NextDouble() < 0.9;
            for (int j = 0; j < 10; j++) logits[i * 10 + j] = shared[j] + (dead ? 0 : (float)Gaussian(random));
        }
        return new SampleOutputs(labels, logits, 10);
    }

    /// <summary>The CPU's model name from /proc/cpuinfo (every benchmark prints it), or "unknown".</summary>
    internal static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { return "unknown"; }
    }

    internal static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
