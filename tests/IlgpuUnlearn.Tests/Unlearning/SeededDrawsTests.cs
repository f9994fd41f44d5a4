using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Tests.Unlearning;

/// <summary>
/// What unlearn --seeds relies on, for every method: a run whose settings draw something from the seed
/// (<see cref="UnlearningMethod.SeededDraws"/> not empty) gives another model for another seed, and a run that draws nothing
/// (SSD, LFSSD, or a method in file order without augmentation that draws nothing itself) gives the same model bit for bit,
/// so that --seeds may refuse it. A width-4 ResNet18 with hashed parameters, 80 images of 3x16x16, one whole epoch of batch 4
/// on the CPU path (deterministic: the same run gives the same bits). A whole epoch and a forget set of two batches, because
/// a shorter run can miss what the seed changes: RL in file order reaches its relabelled forget images only after the retain
/// set, and GA's order does not matter when the forget set is one batch.
/// </summary>
public sealed class SeededDrawsTests
{
    const int Forget = 3;

    static Dictionary<string, float[]> RunWithSeed(MethodSettings settings, int seed)
    {
        var labels = Enumerable.Range(0, 80).Select(i => (byte)(i % 10)).ToArray();
        var pixels = HashedParameters.Bytes(80 * 3 * 16 * 16, stream: 77);
        var train = new ImageDataset("tiny", pixels, labels, 3, 16, 16, Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        var config = new ResNet18Config(4, 16, 10);
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, config, 4);
        ModelState.Load(model, HashedParameters.State(new ResNet18Layout(config)));
        MethodRun.Run(model, train, Forget, settings with { Seed = seed });
        return ModelState.Read(model);
    }

    static bool Same(Dictionary<string, float[]> a, Dictionary<string, float[]> b) =>
        a.Keys.All(k => a[k].AsSpan().SequenceEqual(b[k]));

    /// <summary>Each method with its defaults, with file order and no augmentation, and (for SSD and LFSSD) with both switched on.</summary>
    public static TheoryData<string, bool, bool> Cases()
    {
        var cases = new TheoryData<string, bool, bool>();
        foreach (var m in MethodRegistry.All)
        {
            cases.Add(m.OptionName, m.Defaults.Shuffle, m.Defaults.Augment);
            // File order without augmentation, unless that is already the method's default (SSD, LFSSD): a row given twice
            // is one test case to xUnit, which drops the second with a warning.
            if (m.Defaults.Shuffle || m.Defaults.Augment) cases.Add(m.OptionName, false, false);
            if (!m.TakesOptimizerStep) cases.Add(m.OptionName, true, true);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnotherSeedGivesAnotherModelExactlyWhenTheRunDrawsFromIt(string method, bool shuffle, bool augment)
    {
        var m = MethodRegistry.Find(method);
        var settings = m.Defaults with { BatchSize = 4, Epochs = 1, MaxSteps = null, Shuffle = shuffle, Augment = augment };
        var draws = m.SeededDraws(settings);
        var seed0 = RunWithSeed(settings, 0);
        var seed1 = RunWithSeed(settings, 1);
        if (draws.Count == 0)
            Assert.True(Same(seed0, seed1), $"{m.Name} (shuffle {shuffle}, augment {augment}) is said to draw nothing, yet seeds 0 and 1 differ");
        else
            Assert.False(Same(seed0, seed1), $"{m.Name} (shuffle {shuffle}, augment {augment}) draws {string.Join(", ", draws)}, yet seeds 0 and 1 give the same model");
        // And one seed twice is the same model, bit for bit.
        Assert.True(Same(seed1, RunWithSeed(settings, 1)), $"{m.Name}: seed 1 twice differs");
        Assert.Equal(m.OptionName is "ssd" or "lfssd", !m.SeededDraws(m.Defaults with { Shuffle = true, Augment = true }).Any());
    }
}
