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
}

/// <summary>
/// Every figure of one model, from its per-sample outputs on both splits (one forward pass per image, see
/// <see cref="SampleOutputs"/>). With a forget class k, the named metrics (percent unless said):
/// <list type="bullet">
/// <item>The Unlearning Comparator's (gnueaj/Machine-Unlearning-Comparator): UA = training accuracy of class k,
/// RA = mean of the nine other classes' training accuracies, TUA and TRA the same on the test set.</item>
/// <item>SalUn's (Fan et al., ICLR 2024, OPTML-Group/Unlearn-Saliency): SalUn_UA = 100 - UA, SalUn_RA = training accuracy
/// over the retain-class images pooled, SalUn_TA = test accuracy over the retain-class images pooled,
/// MIA_efficacy = <see cref="SvcMiaEfficacy"/> (members: the first |test| retain-class training images in file order, as
/// Unlearn-Sparse's Subset(retain, range(len(test))); non-members: the whole test set; targets: the class-k training images).</item>
/// <item>loss_MIA = <see cref="LossAttack"/> accuracy (class-k training images against as many test images; 50 is ideal).</item>
/// <item>FQS = <see cref="PrivacyScore"/> (0..1) against the retrained model's outputs on the class-k training images, when given.</item>
/// </list>
/// Intervals: percentile bootstrap over images (seeded), resampling each class of each split on its own so that class sizes
/// stay fixed; MIA-efficacy reuses the class-k resample with the fitted SVC fixed; the loss attack and the privacy score are
/// recomputed (refit / re-swept) on up to <see cref="EvaluationSettings.AttackBootstrapReplicates"/> resamples.
/// </summary>
public sealed class ModelEvaluation
{
    public const string UA = "UA", RA = "RA", TUA = "TUA", TRA = "TRA";
    public const string SalUnUA = "SalUn_UA", SalUnRA = "SalUn_RA", SalUnTA = "SalUn_TA", MiaEfficacy = "MIA_efficacy";
    public const string LossMia = "loss_MIA", Fqs = "FQS";

    /// <summary>The metric names in report order.</summary>
    public static readonly string[] MetricOrder = [UA, RA, TUA, TRA, SalUnUA, SalUnRA, SalUnTA, MiaEfficacy, LossMia, Fqs];

    /// <summary>SalUn's "Avg. Gap" averages the gaps of these four.</summary>
    public static readonly string[] AvgGapMetrics = [SalUnUA, SalUnRA, SalUnTA, MiaEfficacy];

    /// <summary>The model file's name.</summary>
    [JsonPropertyName("model")]
    public string Model { get; init; } = "";

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

    /// <summary>Every figure of one model. <paramref name="retrainedTrain"/>: the retrained model's outputs on the same training images (for FQS).</summary>
    /// <exception cref="ArgumentException">Outputs of different class counts, or retrained outputs of other images.</exception>
    public static ModelEvaluation Compute(string model, string role, SampleOutputs train, SampleOutputs test, int? forgetClass,
        SampleOutputs? retrainedTrain, EvaluationSettings settings, CancellationToken cancel = default)
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
            foreach (var (name, value) in new Figures(train, test, k, retrainedTrain, settings, cancel).Compute())
                evaluation.Metrics[name] = value;
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
        private readonly int[][] _trainByClass, _testByClass;
        private readonly int[] _targetPosition;
        private readonly SvcMiaEfficacy? _svc;

        public Figures(SampleOutputs train, SampleOutputs test, int k, SampleOutputs? retrained, EvaluationSettings settings, CancellationToken cancel)
        {
            (_train, _test, _k, _retrained, _settings, _cancel) = (train, test, k, retrained, settings, cancel);
            _trainByClass = Enumerable.Range(0, train.ClassCount).Select(c => train.IndicesOfClass(c)).ToArray();
            _testByClass = Enumerable.Range(0, test.ClassCount).Select(c => test.IndicesOfClass(c)).ToArray();
            _targetPosition = new int[train.Count];
            for (int p = 0; p < _trainByClass[k].Length; p++) _targetPosition[_trainByClass[k][p]] = p;

            var retain = train.IndicesOfClass(k, equal: false);
            var members = retain.Take(Math.Min(retain.Length, test.Count)).Select(i => train.TrueClassProbability[i]).ToArray();
            var targets = _trainByClass[k].Select(i => train.TrueClassProbability[i]).ToArray();
            if (members.Length > 0 && targets.Length > 0 && test.Count > 0)
                _svc = SvcMiaEfficacy.Compute(members, test.TrueClassProbability, targets, cancel);
        }

        public IEnumerable<(string, MetricValue)> Compute()
        {
            var point = Accuracies(_trainByClass, _testByClass);
            int replicates = _settings.BootstrapReplicates;
            var samples = point.Keys.ToDictionary(name => name, _ => new List<double>());
            var random = new Random(_settings.Seed);
            var forgetDraws = new List<int[]>();
            for (int r = 0; r < replicates; r++)
            {
                if ((r & 63) == 0) _cancel.ThrowIfCancellationRequested();
                var train = _trainByClass.Select(pool => Bootstrap.Resample(pool, random)).ToArray();
                var test = _testByClass.Select(pool => Bootstrap.Resample(pool, random)).ToArray();
                foreach (var (name, value) in Accuracies(train, test)) samples[name].Add(value);
                if (forgetDraws.Count < _settings.AttackBootstrapReplicates) forgetDraws.Add(train[_k]);
            }
            foreach (var (name, value) in point) yield return (name, With(value, samples[name]));

            // The loss attack: refit on resampled balanced sets (members and non-members resampled apart, splits kept).
            var forgetLosses = _trainByClass[_k].Select(i => _train.Loss[i]).ToArray();
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
                Parallel.For(0, draws.Length, new ParallelOptions { CancellationToken = _cancel }, r =>
                    replicatesOfLoss[r] = 100 * LossAttack.CrossValidatedAccuracy(draws[r].Select(i => x[i]).ToArray(), y, folds));
                yield return (LossMia, With(value, replicatesOfLoss));
            }

            // The privacy score against the retrained model, paired resamples of the class-k training images.
            if (_retrained is not null && _trainByClass[_k].Length > 0)
            {
                var forget = _trainByClass[_k];
                double[] ue = forget.Select(i => _train.Entropy(i, PrivacyScore.EntropyTemperature)).ToArray();
                double[] re = forget.Select(i => _retrained.Entropy(i, PrivacyScore.EntropyTemperature)).ToArray();
                double[] uc = forget.Select(_train.LogitConfidence).ToArray();
                double[] rc = forget.Select(_retrained.LogitConfidence).ToArray();
                double value = PrivacyScore.Compute(ue, re, uc, rc);
                var fqsReplicates = new double[forgetDraws.Count];
                Parallel.For(0, forgetDraws.Count, new ParallelOptions { CancellationToken = _cancel }, r =>
                {
                    var p = forgetDraws[r].Select(i => _targetPosition[i]).ToArray();
                    fqsReplicates[r] = PrivacyScore.Compute(p.Select(i => ue[i]).ToArray(), p.Select(i => re[i]).ToArray(),
                        p.Select(i => uc[i]).ToArray(), p.Select(i => rc[i]).ToArray());
                });
                yield return (Fqs, With(value, fqsReplicates));
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
