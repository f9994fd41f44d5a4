using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Evaluation.Privacy;

/// <summary>
/// Counts of one attack feature over fixed bins for the three image sets the attacks compare: the members (retain-class
/// training images), the non-members (test images) and the forget images (forget-class training images).
/// <see cref="Edges"/> has one more entry than each count array; bin b holds values v with Edges[b] &lt;= v &lt; Edges[b + 1],
/// the last bin also everything at or above its lower edge (values past the last edge are counted there, not dropped).
/// </summary>
public sealed record ScoreHistogram(
    [property: JsonPropertyName("edges")] double[] Edges,
    [property: JsonPropertyName("members")] int[] Members,
    [property: JsonPropertyName("non_members")] int[] NonMembers,
    [property: JsonPropertyName("forget")] int[] Forget);

/// <summary>
/// The attacks' score distributions in compact form (fixed bins, counts; no per-sample values): what the SVC attack
/// (MIA-efficacy, <see cref="SvcMiaEfficacy"/>) and the loss attack (<see cref="LossAttack"/>) see. The sets are those of
/// the SVC attack: members the first n retain-class training images in file order, non-members the n test images of the
/// run's <see cref="MiaSplit"/>, forget all forget-class training images.
/// <list type="bullet">
/// <item><see cref="Probability"/>: softmax(z)[label], the SVC attack's feature, 20 bins of 0.05 on [0, 1].</item>
/// <item><see cref="Loss"/>: -log softmax(z)[label] (nats), the loss attack's feature, 13 bins with edges
/// <see cref="LossEdges"/> (half-decade steps from 0.001 to 1, then doubling to 64: a confident image's loss is near 0.001,
/// a class pushed past retraining reaches 10-30, the AdvNegGrad card's forget loss 26-33; everything at or above 64 counts
/// in the last bin).</item>
/// </list>
/// Size: (20 + 13) x 3 counts per model.
/// </summary>
public sealed record AttackScoreHistograms
{
    /// <summary>The fixed edges of the loss histogram (nats).</summary>
    public static readonly double[] LossEdges = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 2, 4, 8, 16, 32, 64];

    /// <summary>The fixed edges of the probability histogram: 0, 0.05, ..., 1.</summary>
    public static readonly double[] ProbabilityEdges = Enumerable.Range(0, 21).Select(i => i / 20.0).ToArray();

    [JsonPropertyName("true_class_probability")] public ScoreHistogram Probability { get; init; } = new([], [], [], []);
    [JsonPropertyName("loss")] public ScoreHistogram Loss { get; init; } = new([], [], [], []);

    /// <summary>
    /// The histograms of <paramref name="train"/> and <paramref name="test"/> outputs for forget class
    /// <paramref name="forgetClass"/>, the sets chosen as the SVC attack chooses them (<paramref name="split"/>).
    /// </summary>
    public static AttackScoreHistograms Compute(SampleOutputs train, SampleOutputs test, int forgetClass, MiaSplit split)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var (members, nonMembers, forget) = AttackSets(train, test, forgetClass, split);
        ScoreHistogram Of(double[] edges, Func<SampleOutputs, int, double> score) => new(edges,
            Count(edges, members.Select(i => score(train, i))),
            Count(edges, nonMembers.Select(i => score(test, i))),
            Count(edges, forget.Select(i => score(train, i))));
        return new AttackScoreHistograms
        {
            Probability = Of(ProbabilityEdges, (o, i) => o.TrueClassProbability[i]),
            Loss = Of(LossEdges, (o, i) => o.Loss[i]),
        };
    }

    /// <summary>
    /// The SVC attack's sets as indices: members (into <paramref name="train"/>: the first n retain-class images, n the number of
    /// non-members), non-members (into <paramref name="test"/>: the retain-class test images for <see cref="MiaSplit.SalUn"/>,
    /// every test image for <see cref="MiaSplit.WholeTest"/>), forget (into <paramref name="train"/>: every forget-class image).
    /// </summary>
    public static (int[] Members, int[] NonMembers, int[] Forget) AttackSets(SampleOutputs train, SampleOutputs test, int forgetClass, MiaSplit split)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var retain = train.IndicesOfClass(forgetClass, equal: false);
        var nonMembers = split == MiaSplit.SalUn ? test.IndicesOfClass(forgetClass, equal: false) : Enumerable.Range(0, test.Count).ToArray();
        return (retain[..Math.Min(retain.Length, nonMembers.Length)], nonMembers, train.IndicesOfClass(forgetClass));
    }

    /// <summary>Counts of <paramref name="values"/> per bin of <paramref name="edges"/> (see <see cref="ScoreHistogram"/>); NaN is not counted.</summary>
    public static int[] Count(double[] edges, IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(edges);
        ArgumentNullException.ThrowIfNull(values);
        var counts = new int[edges.Length - 1];
        foreach (double v in values)
        {
            if (double.IsNaN(v)) continue;
            // The last edge whose value is at most v: its bin (below the first edge: the first bin; past the last: the last).
            int b = Array.BinarySearch(edges, v);
            if (b < 0) b = ~b - 1;
            counts[Math.Clamp(b, 0, counts.Length - 1)]++;
        }
        return counts;
    }
}
