namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// SalUn's and Unlearn-Sparse's "MIA-efficacy" (OPTML-Group/Unlearn-Sparse and Unlearn-Saliency, evaluation/SVC_MIA.py,
/// feature "confidence"): an RBF SVC (C = 3, gamma "auto" = 1 for one feature) is trained on the true-class probability
/// softmax(z)[y] of members (label 1: |test| retain-class training images) and non-members (label 0: the test set); the
/// efficacy is the share of the forget training images it calls non-members. 1 (100%) means the forget images look unseen.
/// The feature is rounded to float32, as SalUn's code holds it (torch's softmax of float32 logits, then .numpy()): a
/// confident model's probabilities then tie at exactly 1 as they do there (within one float32 rounding of torch's value).
/// Images with the same feature value and side are fitted as one sample weighted by their count (the same classifier:
/// see <see cref="RbfSupportVectorClassifier"/>); a confident model gives many exactly equal probabilities (1.0f), and
/// without the merge the solver spends minutes shuffling weight between identical points.
/// </summary>
public sealed class SvcMiaEfficacy
{
    private SvcMiaEfficacy(RbfSupportVectorClassifier classifier, bool[] targetNonMember, double fittingBalancedAccuracy)
    {
        Classifier = classifier;
        TargetCalledNonMember = targetNonMember;
        FittingBalancedAccuracy = fittingBalancedAccuracy;
    }

    public RbfSupportVectorClassifier Classifier { get; }

    /// <summary>
    /// How well the attack separates the data it was fitted on (0..1): the balanced accuracy of its predictions on its own
    /// members and non-members (<see cref="RbfSupportVectorClassifier.BalancedAccuracy"/>; scikit-learn's
    /// balanced_accuracy_score(y, clf.predict(X)) on SalUn's fitting set). About 0.5 means the model's true-class
    /// probability does not tell its training images from unseen ones, and the efficacy is then not evidence of anything
    /// (see <see cref="VerdictThresholds.InformativeAttackBalancedAccuracy"/>).
    /// </summary>
    public double FittingBalancedAccuracy { get; }

    /// <summary>Per target image: whether the attack calls it a non-member.</summary>
    public bool[] TargetCalledNonMember { get; }

    /// <summary>The share (0..1) of target images called non-members.</summary>
    public double Efficacy => ShareOf(TargetCalledNonMember, null);

    /// <summary>The efficacy over a resample of the targets (indices into them), for the bootstrap.</summary>
    public double EfficacyOver(ReadOnlySpan<int> resample) => ShareOf(TargetCalledNonMember, resample.ToArray());

    /// <summary>
    /// Fits the attack and predicts the targets. Each argument is one feature value per image. <paramref name="iterations"/>
    /// hears the solver's iteration count every 256 iterations (see <see cref="RbfSupportVectorClassifier.Fit"/>).
    /// </summary>
    /// <exception cref="ArgumentException">No members, no non-members or no targets.</exception>
    public static SvcMiaEfficacy Compute(ReadOnlySpan<double> members, ReadOnlySpan<double> nonMembers, ReadOnlySpan<double> targets,
        CancellationToken cancel = default, Action<int>? iterations = null)
    {
        if (members.Length == 0 || nonMembers.Length == 0 || targets.Length == 0)
            throw new ArgumentException($"the SVC attack needs members ({members.Length}), non-members ({nonMembers.Length}) and targets ({targets.Length})");
        // (feature, member) -> count, in first-seen order so that the fit does not depend on hashing.
        var counts = new Dictionary<(double, bool), int>();
        var order = new List<(double Value, bool Member)>();
        void Add(double value, bool member)
        {
            if (counts.TryGetValue((value, member), out int seen)) counts[(value, member)] = seen + 1;
            else { counts[(value, member)] = 1; order.Add((value, member)); }
        }
        foreach (double v in members) Add((float)v, true);
        foreach (double v in nonMembers) Add((float)v, false);
        var x = order.Select(p => new[] { p.Value }).ToArray();
        var y = order.Select(p => p.Member).ToArray();
        var weights = order.Select(p => (double)counts[p]).ToArray();
        var svc = RbfSupportVectorClassifier.Fit(x, y, c: 3, gamma: null, cancel: cancel, weights: weights, iterations: iterations);
        // Each distinct target value is predicted once (a confident model's targets tie by the thousand).
        var t = new double[targets.Length];
        for (int i = 0; i < t.Length; i++) t[i] = (float)targets[i];
        var distinct = t.Distinct().ToArray();
        var calledNonMember = new bool[distinct.Length];
        Parallel.For(0, distinct.Length, new ParallelOptions { CancellationToken = cancel }, i => calledNonMember[i] = !svc.Predict([distinct[i]]));
        var lookup = new Dictionary<double, bool>(distinct.Length);
        for (int i = 0; i < distinct.Length; i++) lookup[distinct[i]] = calledNonMember[i];
        // Merged points carry their counts, so this is the balanced accuracy over every member and non-member image.
        double fitting = svc.BalancedAccuracy(x, y, weights, cancel);
        return new SvcMiaEfficacy(svc, t.Select(v => lookup[v]).ToArray(), fitting);
    }

    private static double ShareOf(bool[] values, int[]? indices)
    {
        int count = 0, n = indices?.Length ?? values.Length;
        for (int i = 0; i < n; i++) if (values[indices is null ? i : indices[i]]) count++;
        return n == 0 ? double.NaN : (double)count / n;
    }
}
