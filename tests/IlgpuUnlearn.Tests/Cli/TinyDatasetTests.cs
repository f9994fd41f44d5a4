using IlgpuUnlearn.Cpu;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tests.Support;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Cli;

/// <summary>
/// The pieces under the unlearn command, on the same tiny files: the files read back as written, the epoch is the
/// script's (retain batches 4, 4, 3 in file order, forget stream restarting), and each step's losses and gradient norm
/// match PyTorch's (in-process, so that a difference in the command's final parameters can be traced to a step).
/// </summary>
[Collection(CliCollection.Name)]
public sealed class TinyDatasetTests(TinyCifarFiles files, ITestOutputHelper output)
{
    [Fact]
    public void TheFilesReadBackAsWritten()
    {
        var split = DatasetLoader.Load(DatasetKind.Cifar10, files.DataFolder);
        Assert.Equal(files.TrainLabels.Length, split.Train.Count);
        Assert.Equal(files.TestLabels.Length, split.Test.Count);
        Assert.Equal(files.TrainLabels, split.Train.Labels.ToArray());
        Assert.Equal(files.TestLabels, split.Test.Labels.ToArray());
        for (int i = 0; i < split.Train.Count; i++)
            Assert.True(files.TrainImage(i).AsSpan().SequenceEqual(split.Train.Pixels.Slice(i * Cifar10.ImageSize, Cifar10.ImageSize)), $"train image {i}");
        for (int i = 0; i < split.Test.Count; i++)
            Assert.True(files.TestImage(i).AsSpan().SequenceEqual(split.Test.Pixels.Slice(i * Cifar10.ImageSize, Cifar10.ImageSize)), $"test image {i}");
        // The train records are spread over all five files (the script's 5, 4, 3, 3, 3), read in file order.
        for (int f = 0; f < Cifar10BinaryReader.TrainFileNames.Count; f++)
            Assert.Equal((long)files.TrainFileRecords[f] * Cifar10BinaryReader.RecordSize,
                new FileInfo(Path.Combine(files.DataFolder, Cifar10BinaryReader.TrainFileNames[f])).Length);
    }

    [Fact]
    public void TheEpochIsTheScriptsPlan()
    {
        var train = Cifar10BinaryReader.LoadTrain(files.DataFolder);
        int k = TinyCifarFiles.ForgetClass;
        // AdvNegGrad's batching without shuffling: the retain set in batches of 4, the forget set as an endless stream.
        var batches = EpochBatches.Of(train.IndicesNotOfClass(k), 4, seed: 0, epoch: 0, shuffle: false, augment: false);
        var stream = new EpochBatches.Stream(train.IndicesOfClass(k), seed: 0, epoch: 0, shuffle: false, augment: false);
        // Labels 3,0,1,3,2,4,3,5,6,3,7,8,3,9,1,3,0,3: retain = the others in file order, forget = the 3s in file order.
        int[][] retain = [[1, 2, 4, 5], [7, 8, 10, 11], [13, 14, 16]];
        int[][] forget = [[0, 3, 6, 9], [12, 15, 17, 0], [3, 6, 9]];
        Assert.Equal(3, batches.Count);
        for (int s = 0; s < 3; s++)
        {
            Assert.Equal(retain[s], batches[s].Indices);
            Assert.Equal(forget[s], stream.Next(batches[s].Indices.Length).Indices);
        }
    }

    [Fact]
    public void EachStepsLossesMatchPyTorch()
    {
        var train = Cifar10BinaryReader.LoadTrain(files.DataFolder);
        using var ops = new CpuOps();
        using var model = new ResNet18(ops, ResNet18Config.Cifar10, maxBatch: 4);
        ModelState.Load(model, files.Initial);
        var results = new List<StepResult>();
        int steps = MethodRun.Run(model, train, TinyCifarFiles.ForgetClass,
            new AdvNegGrad().Defaults with { BatchSize = 4, Shuffle = false, Augment = false }, p => results.Add(p.Result)).Steps;
        Assert.Equal(3, steps);
        var expected = files.Fixture.Floats("steps.losses");
        var actual = results.SelectMany(r => new[] { r.ForgetLoss ?? float.NaN, r.RetainLoss, r.GradientNorm }).ToArray();
        // Losses ~3 and gradient norms ~15 from fp32 forward/backward passes: 1e-4 relative, as the model tests allow the loss,
        // or twice PyTorch's own fp32 spread where the steps make it wider (the third step's gradient norm: up to 9e-4).
        FixtureAssert.WithinSpread(output, "per step: forget loss, retain loss, gradient norm", expected, actual,
            files.Fixture.Floats("spread.steps.losses"), 1e-4, 1e-6);
    }
}
