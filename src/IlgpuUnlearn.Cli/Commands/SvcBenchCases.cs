using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Privacy;
using IlgpuUnlearn.IO;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// The SVC membership attack (SalUn's MIA-efficacy) at the real sizes, timed against scikit-learn on the same features:
/// CIFAR-10 (10,000 members, the 10,000 test images, 5,000 forget images as targets) and Fashion-MNIST (10,000 + 10,000 +
/// 6,000), each with the outputs of a confident model (most members' true-class probability exactly 1 in float32, a tail
/// below) and of a mediocre one (no ties). Ours and the peer (bench/svc_peer.py) run one after the other on each case.
/// </summary>
internal static class SvcBenchCases
{
    /// <summary>One case: its name, the sizes, and the logit margins (true class ahead by N(mean, sd)) of each side.</summary>
    internal sealed record Case(string Name, int Members, int NonMembers, int Targets,
        (double Mean, double Sd) MemberMargin, (double Mean, double Sd) NonMemberMargin, (double Mean, double Sd) TargetMargin);

    // Confident: margins near 24 give float32 probabilities of exactly 1 (a margin past about 19.5 with 9 other classes);
    // the test images' wider spread gives a tail of unsure and wrong ones, the forget images (after unlearning) lower still.
    // Mediocre: margins of a few logits, every probability distinct.
    public static IEnumerable<Case> All() =>
    [
        new("cifar10_confident", 10_000, 10_000, 5_000, (24, 6), (16, 9), (8, 8)),
        new("cifar10_mediocre", 10_000, 10_000, 5_000, (6, 3), (4, 3.5), (2, 4)),
        new("fashion_mnist_confident", 10_000, 10_000, 6_000, (24, 6), (16, 9), (8, 8)),
        new("fashion_mnist_mediocre", 10_000, 10_000, 6_000, (6, 3), (4, 3.5), (2, 4)),
    ];

    /// <summary>True-class probabilities of <paramref name="n"/> synthetic 10-class outputs (noise N(0, 1.5) on every logit).</summary>
    static double[] Probabilities(Random random, int n, (double Mean, double Sd) margin)
    {
        var labels = new int[n];
        var logits = new float[n * 10];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 10;
            for (int j = 0; j < 10; j++) logits[i * 10 + j] = (float)(1.5 * BenchEvalCommand.Gaussian(random));
            logits[i * 10 + labels[i]] += (float)(margin.Mean + margin.Sd * BenchEvalCommand.Gaussian(random));
        }
        return new SampleOutputs(labels, logits, 10).TrueClassProbability;
    }

    /// <summary>
    /// Times ours (and the peer when given) on one case, <paramref name="repeats"/> times alternated (ours, peer, ours, ...);
    /// prints the figures; returns them (seconds are sums over the repeats, the ratio is of the sums).
    /// </summary>
    public static Dictionary<string, object> Run(Case c, string? peer, string python, int repeats)
    {
        var random = new Random(c.Name.Length * 7919 + c.Members);
        var members = Probabilities(random, c.Members, c.MemberMargin);
        var nonMembers = Probabilities(random, c.NonMembers, c.NonMemberMargin);
        var targets = Probabilities(random, c.Targets, c.TargetMargin);
        int ones = members.Count(v => (float)v == 1f) + nonMembers.Count(v => (float)v == 1f);

        double seconds = 0, peerSeconds = 0;
        SvcMiaEfficacy ours = null!;
        JsonElement p = default;
        for (int r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            ours = SvcMiaEfficacy.Compute(members, nonMembers, targets);
            seconds += clock.Elapsed.TotalSeconds;
            if (peer is null) continue;
            p = RunPeer(members, nonMembers, targets, peer, python);
            peerSeconds += p.GetProperty("seconds").GetDouble();
        }
        // The attack's balanced accuracy on its fitting data, timed on every point unmerged (an upper bound on the cost in
        // Compute, which predicts each distinct (value, side) once): n x distinct support vectors kernel values.
        var fitX = members.Concat(nonMembers).Select(v => new[] { (double)(float)v }).ToArray();
        var fitY = members.Select(_ => true).Concat(nonMembers.Select(_ => false)).ToArray();
        var fitClock = Stopwatch.StartNew();
        double fitAccuracy = ours.Classifier.BalancedAccuracy(fitX, fitY);
        double fitSeconds = fitClock.Elapsed.TotalSeconds;
        var figures = new Dictionary<string, object>
        {
            ["fit_balanced_accuracy"] = fitAccuracy,
            ["fit_balanced_accuracy_seconds"] = fitSeconds,
            ["seconds"] = seconds,
            ["efficacy"] = ours.Efficacy,
            ["support_vectors"] = ours.Classifier.SupportVectorCount,
            ["iterations"] = ours.Classifier.Iterations,
            ["training_points"] = members.Length + nonMembers.Length,
            ["at_one"] = ones,
        };
        string line = Inv($"SVC {c.Name,-24} ours {seconds,6:F2} s{(repeats > 1 ? $" in {repeats} runs" : "")} ({ours.Classifier.Iterations:N0} it, {ours.Classifier.SupportVectorCount:N0} SVs, efficacy {100 * ours.Efficacy:F2}%; {ones:N0} of {members.Length + nonMembers.Length:N0} points at 1.0f)") +
            Inv($"\n    balanced accuracy on its {fitX.Length:N0} fitting points {100 * fitAccuracy:F2}% (same as in the fit: {100 * ours.FittingBalancedAccuracy:F2}%) in {fitSeconds:F2} s over {ours.Classifier.DistinctSupportVectorCount:N0} distinct SVs");
        if (peer is not null)
        {
            {
                double peerEfficacy = p.GetProperty("efficacy").GetDouble();
                int peerSv = p.GetProperty("support_vectors").GetInt32();
                var values = p.GetProperty("distinct_targets").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                var decision = p.GetProperty("decision").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                double worst = 0;
                for (int i = 0; i < values.Length; i++) worst = Math.Max(worst, Math.Abs(ours.Classifier.Decision([values[i]]) - decision[i]));
                figures["peer_seconds"] = peerSeconds;
                figures["ratio"] = seconds / peerSeconds;
                figures["peer_efficacy"] = peerEfficacy;
                figures["peer_support_vectors"] = peerSv;
                figures["decision_worst_difference"] = worst;
                line += Inv($"\n    scikit-learn {p.GetProperty("sklearn").GetString()} {peerSeconds:F2} s{(repeats > 1 ? $" in {repeats} runs" : "")} ({peerSv:N0} SVs, efficacy {100 * peerEfficacy:F2}%): ratio ours/peer {seconds / peerSeconds:F3}x, efficacy difference {100 * (ours.Efficacy - peerEfficacy):+0.00;-0.00;0.00} pp, SV difference {ours.Classifier.SupportVectorCount - peerSv:+0;-0;0}, worst decision difference {worst:E1}");
            }
        }
        Console.WriteLine(line);
        return figures;
    }

    /// <summary>Runs the peer on the same features (through a temporary folder) and returns its result object.</summary>
    static JsonElement RunPeer(double[] members, double[] nonMembers, double[] targets, string peer, string python)
    {
        var folder = Directory.CreateTempSubdirectory("svc-bench-");
        try
        {
            string features = Path.Combine(folder.FullName, "features.json"), result = Path.Combine(folder.FullName, "peer.json");
            File.WriteAllText(features, JsonSerializer.Serialize(new Dictionary<string, double[]>
            {
                ["members"] = members, ["non_members"] = nonMembers, ["targets"] = targets,
            }));
            var start = new ProcessStartInfo(python) { RedirectStandardError = true };
            foreach (var a in new[] { peer, "--features", features, "--out", result }) start.ArgumentList.Add(a);
            using (var process = Process.Start(start) ?? throw new UserError($"could not start {python}"))
            {
                string err = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) throw new UserError($"{peer} failed (exit {process.ExitCode}): {err.Trim()}");
            }
            return JsonDocument.Parse(File.ReadAllText(result)).RootElement.Clone();
        }
        finally { folder.Delete(recursive: true); }
    }

    static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
