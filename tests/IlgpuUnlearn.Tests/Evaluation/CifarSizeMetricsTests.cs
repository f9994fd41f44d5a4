using System.Text.Json;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Tests.Support;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>
/// Every metric of one model at CIFAR-10's size (50,000 training + 10,000 test per-sample outputs, 10 classes, forget
/// class 3) on synthetic outputs built so that the formulas give known values: a confident model (every correct image's
/// true-class probability exactly 1.0f, wrong ones all alike) and a constant one (every logit 0). Work is bounded (50
/// bootstrap resamples, 5 for the attacks; the SVC sees two distinct values), so it takes seconds; no network, no Python.
/// </summary>
public sealed class CifarSizeMetricsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const int Classes = 10, K = 3, TrainPerClass = 5000, TestPerClass = 1000;
    static readonly EvaluationSettings Settings = new() { BootstrapReplicates = 50, AttackBootstrapReplicates = 5, Seed = 1 };

    /// <summary>
    /// Images in class blocks (as a file sorted by class); in class c the first <paramref name="wrong"/>(c) images are wrong
    /// (true logit 0, class c+1 at 5, the rest 0: probability p0 = 1 / (e^5 + 9)), the others right with the true logit at 30
    /// (probability exactly 1 in float32). <paramref name="constant"/>: every logit 0 instead.
    /// </summary>
    static SampleOutputs Outputs(int perClass, Func<int, int> wrong, bool constant)
    {
        var labels = new int[perClass * Classes];
        var logits = new float[labels.Length * Classes];
        for (int c = 0, i = 0; c < Classes; c++)
            for (int n = 0; n < perClass; n++, i++)
            {
                labels[i] = c;
                if (constant) continue;
                if (n < wrong(c)) logits[i * Classes + (c + 1) % Classes] = 5;
                else logits[i * Classes + c] = 30;
            }
        return new SampleOutputs(labels, logits, Classes);
    }

    [Fact]
    public void ConfidentModelGivesTheFormulasValues()
    {
        // Training: class 3 has 1,000 wrong of 5,000 (UA 80%); retain class c has 100 c wrong. Test: class 3 has 500 wrong
        // of 1,000 (TUA 50%), class c has 10 c wrong.
        var train = Outputs(TrainPerClass, c => c == K ? 1000 : 100 * c, constant: false);
        var test = Outputs(TestPerClass, c => c == K ? 500 : 10 * c, constant: false);
        var evaluation = ModelEvaluation.Compute("confident", "unlearned", train, test, K, train, Settings);
        var m = evaluation.Metrics;
        double meanRetainClass = Enumerable.Range(0, Classes).Where(c => c != K).Average(); // 42 / 9
        // Accuracies: exact counts, so 1e-9 allows only rounding.
        Assert.Equal(80.0, m[ModelEvaluation.UA].Value, 1e-9);
        Assert.Equal(20.0, m[ModelEvaluation.SalUnUA].Value, 1e-9);
        Assert.Equal(100 - 2 * meanRetainClass, m[ModelEvaluation.RA].Value, 1e-9);      // mean of (5000 - 100 c) / 5000
        Assert.Equal(100 - 2 * meanRetainClass, m[ModelEvaluation.SalUnRA].Value, 1e-9); // pooled: equal class sizes
        Assert.Equal(50.0, m[ModelEvaluation.TUA].Value, 1e-9);
        Assert.Equal(100 - meanRetainClass, m[ModelEvaluation.TRA].Value, 1e-9);
        Assert.Equal(100 - meanRetainClass, m[ModelEvaluation.SalUnTA].Value, 1e-9);
        // MIA-efficacy, SalUn's split. Non-members: the 9,000 retain-class test images, 8,580 at 1.0f and 420 at p0. Members:
        // the first 9,000 retain-class training images, classes 0 and 1: 8,900 at 1.0f, 100 at p0. scikit-learn's SVC on
        // these features calls 1.0f a member
        // and p0 a non-member (mia_expected.json, cifar_size_confident_svc), so the efficacy is the forget images at p0:
        // 1,000 of 5,000.
        var sklearn = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFile.Folder, "mia_expected.json"))).RootElement.GetProperty("cifar_size_confident_svc");
        Assert.Equal(1.0, sklearn.GetProperty("predict_at_one").GetDouble());
        Assert.Equal(0.0, sklearn.GetProperty("predict_at_p0").GetDouble());
        Assert.Equal((float)sklearn.GetProperty("p0").GetDouble(), (float)train.TrueClassProbability[0 * TrainPerClass + 0 + 5000 * 1]);
        Assert.Equal(20.0, m[ModelEvaluation.MiaEfficacy].Value, 1e-9);
        // The attack on its own fitting data: members 8,900 of 9,000 right (at 1.0f), non-members 420 of 9,000 (at p0), so
        // (8900 / 9000 + 420 / 9000) / 2 = 51.78%, scikit-learn's balanced_accuracy_score there (cifar_size_confident_svc_fit_balanced_accuracy).
        double sklearnFit = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureFile.Folder, "mia_expected.json"))).RootElement
            .GetProperty("cifar_size_confident_svc_fit_balanced_accuracy").GetDouble();
        Assert.Equal(100 * (8900.0 / 9000 + 420.0 / 9000) / 2, evaluation.MiaAttackBalancedAccuracy!.Value, 1e-9);
        Assert.Equal(100 * sklearnFit, evaluation.MiaAttackBalancedAccuracy.Value, 1e-9);
        // Loss attack: two loss values; the members (forget images) are 20% high-loss, the non-members (a random half of the
        // test set) about 9.2%, so the fitted rule calls high loss a member and low loss a non-member, right on
        // 0.2 x 0.5 + 0.908 x 0.5 = 55.4% of the held-out images. Tolerance 2.5 points: the subsample's share of high-loss
        // test images varies by about 0.3 points (hypergeometric sd) and the 10 x 1,000 held-out images by 0.5 (binomial sd).
        Assert.InRange(m[ModelEvaluation.LossMia].Value, 55.4 - 2.5, 55.4 + 2.5);
        // FQS against itself: nothing can be told apart.
        Assert.Equal(1.0, m[ModelEvaluation.Fqs].Value, 12);
        // Intervals of the figures resampled 50 times hold their point value (the attacks' 5 refits are too few to ask that).
        foreach (var (name, v) in m)
        {
            Assert.True(v.IsAvailable, name);
            if (name is ModelEvaluation.LossMia or ModelEvaluation.Fqs) continue;
            Assert.True(v.Low <= v.Value + 1e-9 && v.Value <= v.High + 1e-9, $"{name}: {v.Value} outside [{v.Low}, {v.High}]");
        }
        output.WriteLine(string.Join(", ", m.Select(p => $"{p.Key} {p.Value.Value:F3}")));
    }

    [Fact]
    public void ConstantModelIsNotPerfectForgetting()
    {
        // Every logit 0: every image is predicted class 0 (the first of equal logits), every probability 0.1, every loss ln 10.
        var train = Outputs(TrainPerClass, _ => 0, constant: true);
        var test = Outputs(TestPerClass, _ => 0, constant: true);
        var evaluation = ModelEvaluation.Compute("constant", "unlearned", train, test, K, train, Settings);
        var m = evaluation.Metrics;
        double oneOfNine = 100.0 / 9;
        Assert.Equal(0.0, m[ModelEvaluation.UA].Value, 1e-9);
        Assert.Equal(oneOfNine, m[ModelEvaluation.RA].Value, 1e-9);
        Assert.Equal(oneOfNine, m[ModelEvaluation.SalUnRA].Value, 1e-9);
        Assert.Equal(0.0, m[ModelEvaluation.TUA].Value, 1e-9);
        Assert.Equal(oneOfNine, m[ModelEvaluation.TRA].Value, 1e-9);
        // Every feature equal: scikit-learn's decision value is exactly 0, which its predict calls a member (members and
        // non-members are 10,000 each): efficacy 0, never 100 (MembershipInferenceTests checks the same against scikit-learn).
        Assert.Equal(0.0, m[ModelEvaluation.MiaEfficacy].Value, 1e-9);
        // ... from an attack that calls everything a member: exactly chance on its fitting data, so the verdict leaves it out.
        Assert.Equal(50.0, evaluation.MiaAttackBalancedAccuracy);
        // Equal losses: the regression cannot separate the balanced classes and calls every image a non-member: 50%.
        Assert.Equal(50.0, m[ModelEvaluation.LossMia].Value, 1e-9);
        Assert.Equal(1.0, m[ModelEvaluation.Fqs].Value, 12);
        output.WriteLine(string.Join(", ", m.Select(p => $"{p.Key} {p.Value.Value:F3}")));
    }
}
