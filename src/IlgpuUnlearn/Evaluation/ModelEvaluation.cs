using System.Text.Json.Serialization;
using IlgpuUnlearn.Evaluation.Privacy;

namespace IlgpuUnlearn.Evaluation;

/// <summary>How the figures of a <see cref="ModelEvaluation"/> are computed.</summary>
public sealed record EvaluationSettings
{
    /// <summary>Bootstrap resamples for the accuracy figures and MIA-efficacy (0: no intervals).</summary>
    public int BootstrapReplicates { get; init; } = 1000;

    /// <summary>Resamples for the figures that refit or re-sweep per resample (loss attack, privacy score): at most this many.</summary>
    public int AttackBootstrapReplicates { get; init; } = 200;

    /// <summary>Seed of the bootstrap and of the loss attack's subsampling and splits.</summary>
    public int Seed { get; init; }

    /// <summary>Which test images the SVC attack takes as non-members (and so how many members): see <see cref="Evaluation.MiaSplit"/>.</summary>
    public MiaSplit MiaSplit { get; init; } = MiaSplit.SalUn;
}

/// <summary>
/// Progress of one part of a model's metrics: <see cref="Done"/> of <see cref="Total"/> units (bootstrap resamples, attack
/// refits); <see cref="Total"/> 0 when the amount is not known ahead (the SVC attack: <see cref="Done"/> is its SMO
/// iterations so far). <see cref="Finished"/>: the part has ended at <see cref="Done"/> (the SVC attack's last report). Called
/// from worker threads.
/// </summary>
public readonly record struct MetricsProgress(string Part, long Done, long Total, bool Finished = false);

/// <summary>
/// The SVC attack's split (<see cref="SvcMiaEfficacy"/>). Both take the first n retain-class training images in file order as
/// members (Unlearn-Sparse / SalUn main_forget.py: Subset(retain_dataset, range(len(test)))) and n test images as non-members.
/// </summary>
public enum MiaSplit
{
    /// <summary>
    /// The default, as SalUn and Unlearn-Sparse run class-wise forgetting: their data code removes the forget class from the
    /// test set (dataset.py: test_set.targets != class_to_replace), so the non-members are the retain-class test images and
    /// n = |test without class k|. Default because MIA_efficacy is named after, and compared with, their figures.
    /// </summary>
    SalUn,

    /// <summary>Every test image as a non-member (n = |test|): this tool's earlier split, and SalUn's for random-data forgetting, whose test set is not filtered.</summary>
    WholeTest,
}

/// <summary>
/// Every figure of one model, from its per-sample outputs on both splits (one forward pass per image, see
/// <see cref="SampleOutputs"/>). With a forget class k, the named metrics (percent unless said):
/// <list type="bullet">
/// <item>The Unlearning Comparator's (gnueaj/Machine-Unlearning-Comparator): UA = training accuracy of class k,
/// RA = mean of the nine other classes' training accuracies, TUA and TRA the same on the test set.</item>
/// <item>SalUn's (Fan et al., ICLR 2024, OPTML-Group/Unlearn-Saliency): SalUn_UA = 100 - UA, SalUn_RA = training accuracy
/// over the retain-class images pooled, SalUn_TA = test accuracy over the retain-class images pooled,
/// MIA_efficacy = <see cref="SvcMiaEfficacy"/> (members: the first n retain-class training images in file order, as
/// Unlearn-Sparse's Subset(retain, range(len(test))); non-members: the n test images of the <see cref="MiaSplit"/>, by
/// default the retain-class ones as SalUn's class-wise runs; targets: the class-k training images).</item>
/// <item>loss_MIA = <see cref="LossAttack"/> accuracy (class-k training images against as many test images; 50 is ideal).</item>
/// <item>FQS = <see cref="PrivacyScore"/> (0..1) against the retrained model's outputs on the class-k training images, when given,
/// rounded as the Comparator's attack code rounds (<see cref="PrivacyScore.ComputeAsComparator"/>); FQS_unrounded the same unrounded.</item>
/// </list>
/// Intervals: percentile bootstrap over images (seeded), resampling each class of each split on its own so that class sizes
/// stay fixed; MIA-efficacy reuses the class-k resample with the fitted SVC fixed; the loss attack and the privacy score are
/// recomputed (refit / re-swept) on up to <see cref="EvaluationSettings.AttackBootstrapReplicates"/> resamples.
/// Not available (<see cref="MetricValue.Unavailable"/>, with the reason) rather than a number: a figure of the forget class
/// (UA, SalUn_UA, TUA, MIA_efficacy, loss_MIA, FQS) over fewer than <see cref="MinimumForgetImages"/> images of its split,
/// RA / TRA when a retain class has no image of that split (their mean over nine classes would silently be over fewer), and
/// SalUn_RA / SalUn_TA / MIA_efficacy without retain-class or test images.
/// </summary>
public sealed class ModelEvaluation
{
    public const string UA = "UA", RA = "RA", TUA = "TUA", TRA = "TRA";
    public const string SalUnUA = "SalUn_UA", SalUnRA = "SalUn_RA", SalUnTA = "SalUn_TA", MiaEfficacy = "MIA_efficacy";
    public const string LossMia = "loss_MIA", Fqs = "FQS", FqsUnrounded = "FQS_unrounded";

    /// <summary>The metric names in report order.</summary>
    public static readonly string[] MetricOrder = [UA, RA, TUA, TRA, SalUnUA, SalUnRA, SalUnTA, MiaEfficacy, LossMia, Fqs, FqsUnrounded];

    /// <summary>A share over fewer forget images than this is not a measurement (one image gives only 0 or 100).</summary>
    public const int MinimumForgetImages = 2;

    /// <summary>SalUn's "Avg. Gap" averages the gaps of these four.</summary>
    public static readonly string[] AvgGapMetrics = [SalUnUA, SalUnRA, SalUnTA, MiaEfficacy];

    /// <summary>The model file's name.</summary>
    [JsonPropertyName("model")]
    public string Model { get; init; } = "";

    /// <summary>
    /// SHA-256 of the model file (64 hex digits) where the file existed when the figures were computed (the base and
    /// retrained models, eval's models); null otherwise, and in reports written before it was recorded. `report` counts a
    /// base or retrained model once per forget class by this, not by its name.
    /// </summary>
    [JsonPropertyName("sha256"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Sha256 { get; set; }

    /// <summary>unlearned, base or retrained (or evaluated, for eval's model).</summary>
    [JsonPropertyName("role")]
    public string Role { get; init; } = "";

    [JsonPropertyName("train")]
    public SplitMetrics Train { get; init; } = new();

    [JsonPropertyName("test")]
    public SplitMetrics Test { get; init; } = new();

    /// <summary>The named figures with their intervals (empty without a forget class).</summary>
    [JsonPropertyName("metrics")]
    public Dictionary<string, MetricValue> Metrics { get; init; } = [];

    /// <summary>
    /// How well this model's SVC attack (MIA_efficacy) separates its own members from its non-members: the balanced accuracy
    /// (%, 50 = chance) of the fitted attack on the images it was fitted on (<see cref="SvcMiaEfficacy.FittingBalancedAccuracy"/>).
    /// The verdict judges MIA_efficacy only where this and the retrained model's are informative
    /// (<see cref="VerdictThresholds.InformativeAttackBalancedAccuracy"/>). Null without the attack, and in reports written
    /// before it was recorded.
    /// </summary>
    [JsonPropertyName("mia_attack_balanced_accuracy"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? MiaAttackBalancedAccuracy { get; set; }

    /// <summary>The attacks' score distributions (fixed-bin counts of members, non-members and forget images), with a forget class.</summary>
    [JsonPropertyName("attack_scores"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AttackScoreHistograms? AttackScores { get; set; }

    /// <summary>The linear probe of the model's penultimate features (Probes/LinearProbe), where computed.</summary>
    [JsonPropertyName("linear_probe"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Probes.LinearProbe? LinearProbe { get; set; }

    /// <summary>The model's relearn time (Probes/RelearnTime), where computed.</summary>
    [JsonPropertyName("relearn"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Probes.RelearnTime? Relearn { get; set; }

    /// <summary>Linear CKA per stage of this model against each other model of the run, where computed.</summary>
    [JsonPropertyName("cka"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Probes.LayerCka[]? Cka { get; set; }

    /// <summary>The model judged against the retrained model (null for the retrained model itself, and without a forget class).</summary>
    [JsonPropertyName("verdict"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Verdict? Verdict { get; set; }

    /// <summary>Seconds each part of the metrics took (SVC attack, bootstrap, loss attack, privacy score), in order; not in the JSON.</summary>
    [JsonIgnore]
    public List<(string Part, double Seconds)> Timings { get; } = [];

    /// <summary>
    /// Every figure of one model. <paramref name="retrainedTrain"/>: the retrained model's outputs on the same training images
    /// (for FQS). <paramref name="progress"/>, when given, hears each part's progress (<see cref="MetricsProgress"/>) at least
    /// every few hundred milliseconds of work; <paramref name="cancel"/> is checked as often.
    /// </summary>
    /// <exception cref="ArgumentException">Outputs of different class counts, or retrained outputs of other images.</exception>
    /// <exception cref="OperationCanceledException">When <paramref name="cancel"/> is signalled.</exception>
    public static ModelEvaluation Compute(string model, string role, SampleOutputs train, SampleOutputs test, int? forgetClass,
        SampleOutputs? retrainedTrain, EvaluationSettings settings, CancellationToken cancel = default, Action<MetricsProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(settings);
        if (train.ClassCount != test.ClassCount) throw new ArgumentException($"train outputs have {train.ClassCount} classes, test {test.ClassCount}");
        if (retrainedTrain is not null && (retrainedTrain.Count != train.Count || !retrainedTrain.Labels.SequenceEqual(train.Labels)))
            throw new ArgumentException("the retrained model's outputs are not of the same training images");
        var evaluation = new ModelEvaluation
        {
            Model = model, Role = role,
            Train = SplitMetrics.Compute(train, forgetClass),
            Test = SplitMetrics.Compute(test, forgetClass),
        };
        if (forgetClass is int k)
        {
            var figures = new Figures(train, test, k, retrainedTrain, settings, cancel, progress, evaluation.Timings);
            foreach (var (name, value) in figures.Compute())
                evaluation.Metrics[name] = value;
            evaluation.MiaAttackBalancedAccuracy = 100 * figures.SvcFittingBalancedAccuracy;
            evaluation.AttackScores = AttackScoreHistograms.Compute(train, test, k, settings.MiaSplit);
        }
        return evaluation;
    }

    /// <summary>The figures of one model for forget class k, point values and bootstrap intervals.</summary>
    private sealed class Figures
    {
        private readonly SampleOutputs _train, _test;
        private readonly int _k;
        private readonly SampleOutputs? _retrained;
        private readonly EvaluationSettings _settings;
        private readonly CancellationToken _cancel;
        private readonly Action<MetricsProgress> _progress;
        private readonly List<(string, double)> _timings;
        private readonly System.Diagnostics.Stopwatch _clock = new();
        private readonly int[][] _trainByClass, _testByClass;
        private readonly int[] _targetPosition;
        private readonly SvcMiaEfficacy? _svc;

        public Figures(SampleOutputs train, SampleOutputs test, int k, SampleOutputs? retrained, EvaluationSettings settings, CancellationToken cancel,
            Action<MetricsProgress>? progress, List<(string, double)> timings)
        {
            (_train, _test, _k, _retrained, _settings, _cancel) = (train, test, k, retrained, settings, cancel);
            (_progress, _timings) = (progress ?? (_ => { }), timings);
            _trainByClass = Enumerable.Range(0, train.ClassCount).Select(c => train.IndicesOfClass(c)).ToArray();
            _testByClass = Enumerable.Range(0, test.ClassCount).Select(c => test.IndicesOfClass(c)).ToArray();
            _targetPosition = new int[train.Count];
            for (int p = 0; p < _trainByClass[k].Length; p++) _targetPosition[_trainByClass[k][p]] = p;

            var sets = AttackScoreHistograms.AttackSets(train, test, k, settings.MiaSplit);
            var nonMembers = sets.NonMembers.Select(i => test.TrueClassProbability[i]).ToArray();
            var members = sets.Members.Select(i => train.TrueClassProbability[i]).ToArray();
            var targets = sets.Forget.Select(i => train.TrueClassProbability[i]).ToArray();
            if (members.Length > 0 && targets.Length >= MinimumForgetImages && nonMembers.Length > 0)
            {
                _clock.Restart();
                _svc = SvcMiaEfficacy.Compute(members, nonMembers, targets, cancel, iterations => _progress(new MetricsProgress(SvcPart, iterations, 0)));
                _progress(new MetricsProgress(SvcPart, _svc.Classifier.Iterations, 0, Finished: true));
                _timings.Add((SvcPart, _clock.Elapsed.TotalSeconds));
            }
        }

        /// <summary>The SVC attack's balanced accuracy (0..1) on its fitting data; null where the attack was not fitted.</summary>
        public double? SvcFittingBalancedAccuracy => _svc?.FittingBalancedAccuracy;

        const string SvcPart = "SVC attack", BootstrapPart = "bootstrap", LossPart = "loss attack", PrivacyPart = "privacy score";

        /// <summary>Runs <paramref name="work"/>(r) for r in [0, count) on the thread pool, reporting progress as replicates finish.</summary>
        private void ParallelReplicates(string part, int count, Action<int> work)
        {
            int done = 0;
            Parallel.For(0, count, new ParallelOptions { CancellationToken = _cancel }, r =>
            {
                work(r);
                _progress(new MetricsProgress(part, Interlocked.Increment(ref done), count));
            });
        }

        /// <summary>Each figure that cannot be computed from these outputs, with the reason (see the class comment).</summary>
        private Dictionary<string, string> Unavailable()
        {
            var why = new Dictionary<string, string>();
            int forgetTrain = _trainByClass[_k].Length, forgetTest = _testByClass[_k].Length;
            static string Few(int n, string split) =>
                $"{n} {split} image{(n == 1 ? "" : "s")} of the forget class: a share needs at least {MinimumForgetImages}";
            if (forgetTrain < MinimumForgetImages)
                foreach (var name in new[] { UA, SalUnUA, MiaEfficacy, LossMia, Fqs, FqsUnrounded }) why[name] = Few(forgetTrain, "training");
            if (forgetTest < MinimumForgetImages) why[TUA] = Few(forgetTest, "test");
            var emptyTrain = Enumerable.Range(0, _trainByClass.Length).Where(c => c != _k && _trainByClass[c].Length == 0).ToArray();
            var emptyTest = Enumerable.Range(0, _testByClass.Length).Where(c => c != _k && _testByClass[c].Length == 0).ToArray();
            if (emptyTrain.Length > 0) why[RA] = $"retain class{(emptyTrain.Length == 1 ? "" : "es")} {string.Join(", ", emptyTrain)} without a training image: RA is the mean over every retain class";
            if (emptyTest.Length > 0) why[TRA] = $"retain class{(emptyTest.Length == 1 ? "" : "es")} {string.Join(", ", emptyTest)} without a test image: TRA is the mean over every retain class";
            if (emptyTrain.Length == _trainByClass.Length - 1)
            {
                why[SalUnRA] = "no retain-class training image";
                why.TryAdd(MiaEfficacy, "no retain-class training image to serve as a member");
            }
            if (emptyTest.Length == _testByClass.Length - 1) why[SalUnTA] = "no retain-class test image";
            if (_settings.MiaSplit == MiaSplit.SalUn ? emptyTest.Length == _testByClass.Length - 1 : _test.Count == 0)
                why.TryAdd(MiaEfficacy, "no test image to serve as a non-member");
            if (_test.Count < 2) why.TryAdd(LossMia, "fewer than 2 test images to serve as non-members");
            return why;
        }

        public IEnumerable<(string, MetricValue)> Compute()
        {
            var point = Accuracies(_trainByClass, _testByClass);
            int replicates = _settings.BootstrapReplicates;
            var samples = point.Keys.ToDictionary(name => name, _ => new List<double>());
            var random = new Random(_settings.Seed);
            var forgetDraws = new List<int[]>();
            _clock.Restart();
            for (int r = 0; r < replicates; r++)
            {
                if ((r & 15) == 0)
                {
                    _cancel.ThrowIfCancellationRequested();
                    _progress(new MetricsProgress(BootstrapPart, r, replicates));
                }
                var train = _trainByClass.Select(pool => Bootstrap.Resample(pool, random)).ToArray();
                var test = _testByClass.Select(pool => Bootstrap.Resample(pool, random)).ToArray();
                foreach (var (name, value) in Accuracies(train, test)) samples[name].Add(value);
                if (forgetDraws.Count < _settings.AttackBootstrapReplicates) forgetDraws.Add(train[_k]);
            }
            if (replicates > 0) _progress(new MetricsProgress(BootstrapPart, replicates, replicates));
            _timings.Add((BootstrapPart, _clock.Elapsed.TotalSeconds));
            var unavailable = Unavailable();
            foreach (var (name, value) in point)
                yield return (name, unavailable.TryGetValue(name, out var why) ? MetricValue.Unavailable(why) : With(value, samples[name]));
            if (_svc is null) yield return (MiaEfficacy, MetricValue.Unavailable(unavailable[MiaEfficacy]));

            // The loss attack: refit on resampled balanced sets (members and non-members resampled apart, splits kept).
            var forgetLosses = _trainByClass[_k].Select(i => _train.Loss[i]).ToArray();
            _clock.Restart();
            if (forgetLosses.Length >= 2 && _test.Count >= 2)
            {
                var (x, y) = LossAttack.BalancedSet(forgetLosses, _test.Loss, _settings.Seed);
                var folds = StratifiedShuffleSplit.Create(y, LossAttack.Splits, _settings.Seed);
                double value = 100 * LossAttack.CrossValidatedAccuracy(x, y, folds);
                int ns = x.Length / 2;
                var memberPool = Enumerable.Range(0, ns).ToArray();
                var nonMemberPool = Enumerable.Range(ns, ns).ToArray();
                var lossRandom = new Random(_settings.Seed + 1);
                var replicatesOfLoss = new double[Math.Min(replicates, _settings.AttackBootstrapReplicates)];
                var draws = replicatesOfLoss.Select(_ => Bootstrap.Resample(memberPool, lossRandom).Concat(Bootstrap.Resample(nonMemberPool, lossRandom)).ToArray()).ToArray();
                ParallelReplicates(LossPart, draws.Length, r =>
                    replicatesOfLoss[r] = 100 * LossAttack.CrossValidatedAccuracy(draws[r].Select(i => x[i]).ToArray(), y, folds));
                _timings.Add((LossPart, _clock.Elapsed.TotalSeconds));
                yield return (LossMia, With(value, replicatesOfLoss));
            }
            else yield return (LossMia, MetricValue.Unavailable(unavailable[LossMia]));

            // The privacy score against the retrained model, paired resamples of the class-k training images.
            if (_retrained is not null && unavailable.TryGetValue(Fqs, out var fqsReason))
            {
                yield return (Fqs, MetricValue.Unavailable(fqsReason));
                yield return (FqsUnrounded, MetricValue.Unavailable(fqsReason));
            }
            else if (_retrained is not null)
            {
                _clock.Restart();
                var forget = _trainByClass[_k];
                double[] ue = forget.Select(i => _train.Entropy(i, PrivacyScore.EntropyTemperature)).ToArray();
                double[] re = forget.Select(i => _retrained.Entropy(i, PrivacyScore.EntropyTemperature)).ToArray();
                double[] uc = forget.Select(_train.LogitConfidence).ToArray();
                double[] rc = forget.Select(_retrained.LogitConfidence).ToArray();
                double[] ue2 = PrivacyScore.RoundFeatures(ue), re2 = PrivacyScore.RoundFeatures(re);
                double[] uc2 = PrivacyScore.RoundFeatures(uc), rc2 = PrivacyScore.RoundFeatures(rc);
                double value = PrivacyScore.ComputeAsComparator(ue2, re2, uc2, rc2);
                double unrounded = PrivacyScore.Compute(ue, re, uc, rc);
                var fqsReplicates = new double[forgetDraws.Count];
                var unroundedReplicates = new double[forgetDraws.Count];
                ParallelReplicates(PrivacyPart, forgetDraws.Count, r =>
                {
                    var p = forgetDraws[r].Select(i => _targetPosition[i]).ToArray();
                    static double[] Pick(double[] values, int[] at) => at.Select(i => values[i]).ToArray();
                    fqsReplicates[r] = PrivacyScore.ComputeAsComparator(Pick(ue2, p), Pick(re2, p), Pick(uc2, p), Pick(rc2, p));
                    unroundedReplicates[r] = PrivacyScore.Compute(Pick(ue, p), Pick(re, p), Pick(uc, p), Pick(rc, p));
                });
                _timings.Add((PrivacyPart, _clock.Elapsed.TotalSeconds));
                yield return (Fqs, With(value, fqsReplicates));
                yield return (FqsUnrounded, With(unrounded, unroundedReplicates));
            }
        }

        /// <summary>The accuracy figures (and MIA-efficacy) over the given images of each class of each split.</summary>
        private Dictionary<string, double> Accuracies(int[][] train, int[][] test)
        {
            var trainAcc = train.Select(idx => Accuracy(_train, idx)).ToArray();
            var testAcc = test.Select(idx => Accuracy(_test, idx)).ToArray();
            var figures = new Dictionary<string, double>
            {
                [UA] = trainAcc[_k],
                [RA] = MeanExcept(trainAcc, _k),
                [TUA] = testAcc[_k],
                [TRA] = MeanExcept(testAcc, _k),
                [SalUnUA] = 100 - trainAcc[_k],
                [SalUnRA] = PooledExcept(_train, train, _k),
                [SalUnTA] = PooledExcept(_test, test, _k),
            };
            if (_svc is not null) figures[MiaEfficacy] = 100 * _svc.EfficacyOver(train[_k].Select(i => _targetPosition[i]).ToArray());
            return figures;
        }

        private MetricValue With(double value, IEnumerable<double> replicates)
        {
            var list = replicates as IReadOnlyCollection<double> ?? replicates.ToList();
            if (list.Count == 0) return MetricValue.Point(value);
            var (low, high) = Bootstrap.PercentileInterval(list);
            return new MetricValue(value, low, high);
        }

        private static double Accuracy(SampleOutputs o, int[] indices)
        {
            int correct = 0;
            foreach (int i in indices) if (o.Correct(i)) correct++;
            return SplitMetrics.Percent(correct, indices.Length);
        }

        private static double MeanExcept(double[] values, int k) =>
            values.Where((v, c) => c != k && !double.IsNaN(v)).DefaultIfEmpty(double.NaN).Average();

        private static double PooledExcept(SampleOutputs o, int[][] byClass, int k)
        {
            long correct = 0, total = 0;
            for (int c = 0; c < byClass.Length; c++)
            {
                if (c == k) continue;
                foreach (int i in byClass[c]) if (o.Correct(i)) correct++;
                total += byClass[c].Length;
            }
            return SplitMetrics.Percent(correct, total);
        }
    }
}
