using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Evaluation.Probes;
using IlgpuUnlearn.Model;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Evaluation.Probes;

/// <summary>Relearn time: its step count means what it says, it is seeded, and it starts from the model as given.</summary>
public sealed class RelearnTimeTests
{
    [Fact]
    public void CountsStepsToTheTargetDeterministically()
    {
        var data = ProbeFixture.Data();
        var config = ProbeFixture.Config;
        using var ops = new CpuOps();
        using var holder = new ResNet18(ops, config, maxBatch: 5);
        var weights = ProbeFixture.Weights(holder, "unlearned");
        // A high learning rate so that the tiny network moves within a few steps.
        var settings = new RelearnSettings { ImageFraction = 0.1, LearningRate = 0.05f, MaxSteps = 6, Seed = 4 };
        const int forget = 3;

        var first = RelearnTime.Measure(ops, config, weights, data, forget, baseForgetAccuracy: 100, settings);
        var again = RelearnTime.Measure(ops, config, weights, data, forget, baseForgetAccuracy: 100, settings);
        Assert.Equal(first.AccuracyByStep, again.AccuracyByStep);
        Assert.Equal(first.Steps, again.Steps);
        Assert.Equal((int)Math.Round(0.1 * data.Train.IndicesOfClass(forget).Length), first.Images); // 10% of the class's training images
        Assert.Equal(50, first.TargetAccuracy);

        // Before any step: the model's own accuracy on the forget-class test images.
        var test = data.Test.Subset(data.Test.IndicesOfClass(forget));
        var logits = IlgpuUnlearn.Unlearning.Predictor.Logits(holder, test);
        double own = 100.0 * Enumerable.Range(0, test.Count).Count(i => NegativeLogLikelihood.ArgMax(logits.AsSpan(i * 10, 10)) == forget) / test.Count;
        Assert.Equal(own, first.AccuracyByStep[0], 9);
        Assert.True(first.AccuracyByStep.Distinct().Count() > 1, "the fine-tuning steps changed nothing");

        // Steps is the first index at the target, or null with every step taken.
        if (first.Steps is int s)
        {
            Assert.True(first.AccuracyByStep[s] >= first.TargetAccuracy);
            Assert.All(first.AccuracyByStep[..s], a => Assert.True(a < first.TargetAccuracy));
            Assert.Equal(s + 1, first.AccuracyByStep.Length);
        }
        else
        {
            Assert.Equal(settings.MaxSteps + 1, first.AccuracyByStep.Length);
            Assert.All(first.AccuracyByStep, a => Assert.True(a < first.TargetAccuracy));
        }

        // A target already met takes no step; another seed draws other images.
        var met = RelearnTime.Measure(ops, config, weights, data, forget, baseForgetAccuracy: 0, settings);
        Assert.Equal(0, met.Steps);
        Assert.Single(met.AccuracyByStep);
        var otherSeed = RelearnTime.Measure(ops, config, weights, data, forget, 100, settings with { Seed = 5 });
        Assert.NotEqual(first.ImageIndices, otherSeed.ImageIndices);
        Assert.All(first.ImageIndices, i => Assert.Equal(forget, data.Train.Label(i)));
    }
}
