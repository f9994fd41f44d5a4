namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// Random train/test splits that keep each class's share, as scikit-learn's StratifiedShuffleSplit (test_size 0.1, the
/// NeurIPS 2023 unlearning challenge's starting kit uses 10 splits): the test part holds ceil(0.1 n) samples, shared
/// between the classes in proportion to their sizes. Seeded with <see cref="Random"/>, so the splits are this program's
/// own (not scikit-learn's); the tests give both the same explicit splits to compare the scores.
/// </summary>
public static class StratifiedShuffleSplit
{
    /// <summary><paramref name="splits"/> (train, test) index pairs over the labels <paramref name="positive"/>.</summary>
    public static IReadOnlyList<(int[] Train, int[] Test)> Create(ReadOnlySpan<bool> positive, int splits, int seed, double testFraction = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(splits);
        int n = positive.Length;
        int testCount = (int)Math.Ceiling(testFraction * n);
        var classes = new[] { new List<int>(), new List<int>() };
        for (int i = 0; i < n; i++) classes[positive[i] ? 1 : 0].Add(i);
        int testPositive = (int)Math.Round((double)testCount * classes[1].Count / n);
        int[] testPerClass = [testCount - testPositive, testPositive];
        var random = new Random(seed);
        var result = new List<(int[], int[])>(splits);
        for (int s = 0; s < splits; s++)
        {
            var train = new List<int>();
            var test = new List<int>();
            for (int k = 0; k < 2; k++)
            {
                int[] shuffled = [.. classes[k]];
                random.Shuffle(shuffled);
                int take = Math.Min(testPerClass[k], shuffled.Length);
                test.AddRange(shuffled.AsSpan(0, take).ToArray());
                train.AddRange(shuffled.AsSpan(take).ToArray());
            }
            result.Add((train.ToArray(), test.ToArray()));
        }
        return result;
    }
}
