namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// The loss-based membership-inference attack of the NeurIPS 2023 machine-unlearning challenge's starting kit
/// (unlearn-ing/neurips-2023-machine-unlearning, simple_mia), also used by SCRUB (Kurmanji et al. 2023): per-sample
/// cross-entropy losses of the forget images (members, label 1) and of an equal number of test images (non-members,
/// label 0; the larger set is subsampled at random), a logistic regression on the loss, and its mean accuracy over 10
/// stratified shuffle splits (10% held out). 0.5 is ideal: the attack cannot tell forget images from unseen ones.
/// </summary>
public static class LossAttack
{
    public const int Splits = 10;

    /// <summary>The balanced attack set: ns = min(|forget|, |test|) of each, drawn with <paramref name="seed"/>. Members first.</summary>
    public static (double[] Losses, bool[] Members) BalancedSet(ReadOnlySpan<double> forgetLosses, ReadOnlySpan<double> testLosses, int seed)
    {
        int ns = Math.Min(forgetLosses.Length, testLosses.Length);
        if (ns < 2) throw new ArgumentException($"the loss attack needs at least 2 forget and 2 test images, got {forgetLosses.Length} and {testLosses.Length}");
        var random = new Random(seed);
        var x = new double[2 * ns];
        var y = new bool[2 * ns];
        var f = Pick(forgetLosses.Length, ns, random);
        var t = Pick(testLosses.Length, ns, random);
        for (int i = 0; i < ns; i++)
        {
            x[i] = forgetLosses[f[i]];
            y[i] = true;
            x[ns + i] = testLosses[t[i]];
        }
        return (x, y);
    }

    /// <summary>The attack's mean cross-validated accuracy (0..1) with this program's seeded splits.</summary>
    public static double Accuracy(ReadOnlySpan<double> forgetLosses, ReadOnlySpan<double> testLosses, int seed = 0)
    {
        var (x, y) = BalancedSet(forgetLosses, testLosses, seed);
        return CrossValidatedAccuracy(x, y, StratifiedShuffleSplit.Create(y, Splits, seed));
    }

    /// <summary>Mean over the folds of the accuracy of a logistic regression fitted on each fold's train part, scored on its test part.</summary>
    public static double CrossValidatedAccuracy(double[] losses, bool[] members, IReadOnlyList<(int[] Train, int[] Test)> folds)
    {
        double sum = 0;
        foreach (var (train, test) in folds) sum += FoldAccuracy(losses, members, train, test);
        return sum / folds.Count;
    }

    public static double FoldAccuracy(double[] losses, bool[] members, int[] train, int[] test)
    {
        var lr = LogisticRegression.Fit(train.Select(i => losses[i]).ToArray(), train.Select(i => members[i]).ToArray());
        int correct = 0;
        foreach (int i in test) if (lr.Predict(losses[i]) == members[i]) correct++;
        return (double)correct / test.Length;
    }

    private static int[] Pick(int n, int count, Random random)
    {
        var all = Enumerable.Range(0, n).ToArray();
        random.Shuffle(all);
        return all[..count];
    }
}
