using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Data;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Training;
using IlgpuUnlearn.Weights;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Training;

/// <summary>
/// <see cref="TrainingRun"/> against PyTorch (Fixtures/train_w4_s32.safetensors from make_train_fixtures.py): the base
/// recipe without shuffling or augmentation on 7 images (batches 4, 3), width-4 ResNet18, 2 epochs with the cosine
/// schedule stepping lr 0.1 -> 0.05 between them, run here as 1 epoch, a checkpoint written and read back, then a resume
/// for the second. Four plain SGD steps amplify rounding, so both fp32 results are judged by their distance from PyTorch's
/// float64 run: for each parameter tensor, max |value - fp64 value| over the tensor's largest change max |fp64 - initial|;
/// the worst tensor is the distance (the fp64 run is kept in float64 in the fixture). PyTorch fp32 reaches 1.46e-5 (printed
/// by the script, recomputed here). Ours must be no farther than 2x PyTorch fp32's distance: another fp32 summation order
/// lands at the same distance, while a wrong step lands orders of magnitude away (measured on the earlier 11-image set:
/// no weight decay 0.69, plain momentum instead of Nesterov 1.6 of a tensor's change; a missed schedule step fails the
/// learning-rate check first). Running statistics the same way; num_batches_tracked exactly; each epoch's mean training
/// loss to 1e-5 relative of PyTorch fp64's.
/// The image set is one on which this run is well conditioned (the script's perturbation test, spread kept in the
/// fixture): on most random image sets a half-ulp change of the initial parameters already moves the float64 result by
/// 0.1 of a tensor's change (a ReLU input flips sign), so a pass or a failure there says nothing about the code.
/// </summary>
public sealed class TrainFidelityTests(ITestOutputHelper output)
{
    const double Factor = 2;

    [Fact]
    public void Training_with_a_schedule_step_and_a_resume_is_as_close_to_float64_PyTorch_as_PyTorch_fp32_is()
    {
        var f = FixtureFile.Open("train_w4_s32.safetensors");
        var raw = WeightsFile.Load(Path.Combine(FixtureFile.Folder, "train_w4_s32.safetensors")).Tensors;
        double[] Doubles(string name) // the float64 run, kept in float64
        {
            var t = raw[name];
            Assert.Equal(TensorDType.Float64, t.DType);
            return Enumerable.Range(0, (int)t.ElementCount).Select(i => t.ElementAsDouble(i)).ToArray();
        }
        var labels = f.Longs("data.labels").Select(l => (byte)l).ToArray();
        var streams = f.Longs("data.streams");
        var pixels = streams.SelectMany(s => HashedParameters.Bytes(3 * 32 * 32, (int)s)).ToArray();
        var names = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();
        var train = new ImageDataset("tiny", pixels, labels, 3, 32, 32, names);
        var config = new ResNet18Config(4, 32, 10);
        var layout = new ResNet18Layout(config);
        var initial = HashedParameters.State(layout);
        var recipe = new TrainingRecipe { Epochs = 2, BatchSize = 4, Shuffle = false, Augment = false };

        using var ops = new CpuOps();
        using var temp = new TempFolder();
        string path = temp.File("epoch1.safetensors");
        using (var model = new ResNet18(ops, config, recipe.BatchSize))
        {
            ModelState.Load(model, initial);
            TrainingRun.Run(model, train, null, recipe, stopAfterEpochs: 1, epochDone: (_, c) => c.Save(path));
        }
        TrainingCheckpoint? end = null;
        using (var model = new ResNet18(ops, config, recipe.BatchSize))
            TrainingRun.Run(model, train, null, recipe, resumeFrom: TrainingCheckpoint.Load(path), epochDone: (_, c) => end = c);
        Assert.NotNull(end);
        Assert.Equal(4, end.Steps);
        Assert.Equal([0.1, 0.05], end.History.Select(h => Math.Round(h.LearningRate, 12)));

        double ours = 0, theirs = 0, oursStats = 0, theirsStats = 0;
        string oursWorst = "", theirsWorst = "";
        foreach (var spec in layout.Tensors)
        {
            var actual = end.State[spec.Name];
            if (spec.Role == TensorRole.BatchesTracked)
            {
                Assert.Equal(f.Longs("after32." + spec.Name)[0], (long)actual[0]);
                continue;
            }
            var fp64 = Doubles("after64." + spec.Name);
            var fp32 = f.Floats("after32." + spec.Name);
            double change = fp64.Zip(initial[spec.Name], (a, i) => Math.Abs((double)a - i)).Max();
            double o = MaxAbsDiff(actual, fp64) / change, t = MaxAbsDiff(fp32, fp64) / change;
            if (spec.Role == TensorRole.RunningStat) { oursStats = Math.Max(oursStats, o); theirsStats = Math.Max(theirsStats, t); continue; }
            if (o > ours) (ours, oursWorst) = (o, spec.Name);
            if (t > theirs) (theirs, theirsWorst) = (t, spec.Name);
        }
        output.WriteLine($"parameters, distance from PyTorch fp64 (worst |diff| / the tensor's largest change): ours {ours:E2} ({oursWorst}), " +
                         $"PyTorch fp32 {theirs:E2} ({theirsWorst}); ratio {ours / theirs:F2} (allowed {Factor})");
        output.WriteLine($"running statistics, same measure: ours {oursStats:E2}, PyTorch fp32 {theirsStats:E2}");
        output.WriteLine($"conditioning: float64 runs from initial parameters moved by 8 ulp land within {Doubles("conditioning.spread")[0]:E2} of it");
        Assert.True(theirs > 0 && ours <= Factor * theirs, $"ours {ours:E2} from fp64, PyTorch fp32 {theirs:E2}: more than {Factor}x");
        Assert.True(oursStats <= Factor * Math.Max(theirsStats, 1e-7), $"running statistics: ours {oursStats:E2}, PyTorch fp32 {theirsStats:E2}");

        var losses = end.History; // per-epoch means; the per-step losses are checked through them
        var l64 = Doubles("losses64");
        double[] expected = [(4 * l64[0] + 3 * l64[1]) / 7, (4 * l64[2] + 3 * l64[3]) / 7];
        for (int e = 0; e < 2; e++)
        {
            output.WriteLine($"epoch {e + 1} mean training loss: ours {losses[e].TrainLoss:F7}, PyTorch fp64 {expected[e]:F7}");
            Assert.True(Math.Abs(losses[e].TrainLoss - expected[e]) <= 1e-5 * expected[e], $"epoch {e + 1}: {losses[e].TrainLoss} vs {expected[e]}");
        }
    }

    static double MaxAbsDiff(float[] a, double[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
}
