using System.Text.Json;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>
/// MIA_efficacy's split as SalUn's main_forget.py runs class-wise forgetting (its dataset.py drops the forget class from
/// the test set; members are Subset(retain, range(len(test)))), through the whole evaluation, against scikit-learn on the
/// same per-sample outputs (Fixtures/make_mia_fixtures.py, svc_salun_split_*); and the whole-test split against the same.
/// </summary>
public sealed class MiaSplitTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static readonly PyTorchFixture Outputs = FixtureFile.Open("mia_outputs.safetensors");
    static readonly JsonElement Expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFile.Folder, "mia_expected.json"))).RootElement;

    /// <summary>Training outputs: the fixture's members (retain classes) first, then its forget images (class 3); test: its non-members.</summary>
    static (SampleOutputs Train, SampleOutputs Test) Splits()
    {
        int[] Labels(string name) => Outputs.Longs(name + ".labels").Select(v => (int)v).ToArray();
        var train = new SampleOutputs([.. Labels("members"), .. Labels("forget")], [.. Outputs.Floats("members.logits"), .. Outputs.Floats("forget.logits")], 10);
        return (train, new SampleOutputs(Labels("nonmembers"), Outputs.Floats("nonmembers.logits"), 10));
    }

    [Theory]
    [InlineData(MiaSplit.SalUn, "svc_salun_split")]
    [InlineData(MiaSplit.WholeTest, "svc_whole_test_split")]
    public void EfficacyIsScikitLearnsOnTheSplit(MiaSplit split, string fixture)
    {
        string expectedName = fixture + "_efficacy";
        var (train, test) = Splits();
        var settings = new EvaluationSettings { BootstrapReplicates = 0, MiaSplit = split };
        var evaluation = ModelEvaluation.Compute("m", "unlearned", train, test, 3, null, settings);
        double efficacy = evaluation.Metrics[ModelEvaluation.MiaEfficacy].Value;
        // The attack's separation of its own fitting data, through the evaluation (in %), against scikit-learn's.
        int n = split == MiaSplit.SalUn ? Expected.GetProperty("svc_salun_split_n").GetInt32() : test.Count;
        MembershipInferenceTests.AssertFittingBalancedAccuracy(evaluation.MiaAttackBalancedAccuracy!.Value / 100, Expected, fixture, n, n, output);
        double expected = 100 * Expected.GetProperty(expectedName).GetDouble();
        output.WriteLine($"{split}: {efficacy:F3}% vs scikit-learn {expected:F3}% ({Expected.GetProperty("svc_salun_split_n").GetInt32()} retain-class test images)");
        // The SVC agrees with scikit-learn on every target here (MembershipInferenceTests: no target within the solvers'
        // tolerance of the boundary), so the share is equal up to rounding.
        Assert.Equal(expected, efficacy, 1e-9);
    }

    /// <summary>
    /// Outputs on which the two splits disagree. Training: 300 retain images at p = 0.1, then 500 at 1.0, then 100 forget
    /// images at 0.1; test: 200 retain-class images at 0.5 and 600 forget-class images at 0.1. SalUn's split: members are
    /// the first 200 retain images (all at 0.1), non-members the 200 at 0.5, so 0.1 is a member and the efficacy 0. Whole
    /// test: members the first 800 (300 at 0.1, 500 at 1.0), non-members 600 at 0.1 and 200 at 0.5, so 0.1 is a non-member
    /// and the efficacy 100.
    /// </summary>
    [Theory]
    [InlineData(MiaSplit.SalUn, 0.0)]
    [InlineData(MiaSplit.WholeTest, 100.0)]
    public void TheSplitsTakeTheirOwnNonMembers(MiaSplit split, double expected)
    {
        const int k = 3;
        // True logit a, the other nine 0: p = e^a / (e^a + 9), so a = ln(9 p / (1 - p)); a = 30 gives exactly 1.0f.
        static float Logit(double p) => p >= 1 ? 30f : (float)Math.Log(9 * p / (1 - p));
        static SampleOutputs Make(IEnumerable<(int Label, double P)> images)
        {
            var list = images.ToList();
            var logits = new float[list.Count * 10];
            for (int i = 0; i < list.Count; i++) logits[i * 10 + list[i].Label] = Logit(list[i].P);
            return new SampleOutputs(list.Select(x => x.Label).ToArray(), logits, 10);
        }
        var train = Make(Enumerable.Repeat((0, 0.1), 300).Concat(Enumerable.Repeat((1, 1.0), 500)).Concat(Enumerable.Repeat((k, 0.1), 100)));
        var test = Make(Enumerable.Repeat((2, 0.5), 200).Concat(Enumerable.Repeat((k, 0.1), 600)));
        var settings = new EvaluationSettings { BootstrapReplicates = 0, MiaSplit = split };
        Assert.Equal(expected, ModelEvaluation.Compute("m", "unlearned", train, test, k, null, settings).Metrics[ModelEvaluation.MiaEfficacy].Value, 1e-9);
    }
}
