using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Data;
using IlgpuUnlearn.Training;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Training;

/// <summary>
/// A run stopped at an epoch boundary and resumed from its checkpoint file is the unbroken run, bit for bit: a width-2
/// ResNet18 on 40 synthetic 32x32 images (batches of 16, 16, 8), shuffled, crop-flip augmented, cosine schedule,
/// 4 epochs straight against 2 + (checkpoint written, read back into a fresh model) + 2.
/// </summary>
public sealed class TrainingResumeTests(ITestOutputHelper output)
{
    static readonly DatasetSplit Data = SyntheticDataset.Generate(trainPerClass: 4, testPerClass: 2, seed: 5);

    static TrainingRecipe Recipe(int? exclude) => new() { Epochs = 4, BatchSize = 16, Seed = 9, ExcludeClass = exclude };

    static ResNet18 NewModel(CpuOps ops, TrainingRecipe recipe)
    {
        var model = new ResNet18(ops, new ResNet18Config(2, 32, 10), recipe.BatchSize);
        ModelState.Load(model, RandomInit.State(model.Layout, recipe.Seed));
        return model;
    }

    [Theory]
    [InlineData(null)]
    [InlineData(3)]
    public void Four_epochs_straight_equal_two_then_resume_two_bit_for_bit(int? exclude)
    {
        var recipe = Recipe(exclude);
        using var ops = new CpuOps();
        using var temp = new TempFolder();

        TrainingCheckpoint? straightEnd = null;
        using (var model = NewModel(ops, recipe))
            TrainingRun.Run(model, Data.Train, Data.Test, recipe, epochDone: (_, c) => straightEnd = c);

        string path = temp.File("run.ckpt.safetensors");
        using (var model = NewModel(ops, recipe))
            TrainingRun.Run(model, Data.Train, Data.Test, recipe, stopAfterEpochs: 2, epochDone: (_, c) => c.Save(path));
        var half = TrainingCheckpoint.Load(path);
        Assert.Equal(2, half.EpochsDone);
        Assert.Equal(6, half.Steps); // 40 (or 36) images in batches of 16: 3 steps an epoch

        TrainingCheckpoint? resumedEnd = null;
        using (var model = new ResNet18(ops, new ResNet18Config(2, 32, 10), recipe.BatchSize)) // not initialised: the checkpoint is
            TrainingRun.Run(model, Data.Train, Data.Test, recipe, resumeFrom: half, epochDone: (_, c) => resumedEnd = c);

        Assert.NotNull(straightEnd);
        Assert.NotNull(resumedEnd);
        Assert.Equal(4, resumedEnd.EpochsDone);
        Assert.Equal(straightEnd.Steps, resumedEnd.Steps);
        Assert.Equal(straightEnd.Momentum, resumedEnd.Momentum);     // float[] equality: element by element, exact
        Assert.Equal(straightEnd.State.Keys, resumedEnd.State.Keys);
        int changed = 0;
        foreach (var (name, values) in straightEnd.State)
        {
            Assert.Equal(values, resumedEnd.State[name]);
            if (!values.SequenceEqual(RandomInit.State(new ResNet18Layout(new ResNet18Config(2, 32, 10)), recipe.Seed)[name])) changed++;
        }
        Assert.True(changed > 40, $"only {changed} tensors moved: the run did not train");
        Assert.Equal(straightEnd.History.Select(h => h with { Seconds = 0 }), resumedEnd.History.Select(h => h with { Seconds = 0 }));
        Assert.Equal(4, resumedEnd.History.Count);
        Assert.True(resumedEnd.History[3].LearningRate < resumedEnd.History[0].LearningRate, "the cosine schedule did not step");
        foreach (var h in resumedEnd.History) output.WriteLine(h.ToJsonLine());
    }

    [Fact]
    public void A_checkpoint_of_another_recipe_is_refused_naming_both()
    {
        var recipe = Recipe(null) with { Epochs = 1 };
        using var ops = new CpuOps();
        TrainingCheckpoint? end = null;
        using (var model = NewModel(ops, recipe))
            TrainingRun.Run(model, Data.Train, null, recipe, epochDone: (_, c) => end = c);
        using var other = NewModel(ops, recipe);
        var e = Assert.Throws<ArgumentException>(() => TrainingRun.Run(other, Data.Train, null, recipe with { Epochs = 2, LearningRate = 0.05 }, resumeFrom: end));
        Assert.Contains("lr 0.1 ", e.Message);
        Assert.Contains("lr 0.05 ", e.Message);
    }
}
