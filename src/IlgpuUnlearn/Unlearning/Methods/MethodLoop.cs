using System.Diagnostics;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>One step on a batch (and, for a pass with a paired stream, its paired batch; empty otherwise) with the epoch's update.</summary>
public delegate StepResult BatchStep(HostBatch batch, HostBatch paired, SgdUpdate update);

/// <summary>How a pass changes its batch's labels on the host before the step: none, the forget class's only, or every label,
/// each to a class drawn uniformly from the classes other than the forget class.</summary>
public enum Relabel { None, ForgetClassOnly, Every }

/// <summary>
/// One pass of an epoch over <paramref name="Indices"/> in batches (<see cref="EpochBatches.Of"/>), one <paramref name="Step"/> per
/// batch. <paramref name="PairedStream"/>: a set read as an endless stream beside it (<see cref="EpochBatches.Stream"/>), each
/// batch paired with as many of its images (AdvNegGrad's forget images). <paramref name="Name"/>: what the progress line calls
/// the batch's set ("forget", "retain"; null: the step's results say it). <paramref name="Seed"/>: the pass's order seed, by
/// default derived from (run seed, pass number).
/// </summary>
public sealed record Pass(int[] Indices, BatchStep Step, string? Name, Relabel Relabel = Relabel.None, int[]? PairedStream = null, int? Seed = null);

/// <summary>
/// The epoch loop every method and <c>train</c> share: per epoch the method's passes; per batch the images and labels
/// gathered into buffers allocated once, relabelled on the host if the pass says so, one step (its <see cref="TrainingStep"/>
/// call), the non-finite check, progress. The learning rate comes from the settings' schedule, stepped per epoch.
/// Each pass draws its order from (its seed, epoch), its augmentation likewise, and its random labels from
/// (run seed, epoch, 31 + 8 pass).
/// </summary>
public sealed class MethodLoop : IDisposable
{
    const long RelabelStream = 31, PairedStreamSeed = 101;

    readonly Action<StepProgress>? progress;
    readonly Action<string>? note;
    readonly byte[] pixels, pairedPixels;
    readonly int[] labels, pairedLabels;
    readonly List<ResNet18> teachers = [];

    /// <param name="model">Holds the original model (what <see cref="Original"/> copies before the first step).</param>
    /// <param name="note">Receives what a method tells the user about its run in one line each (<see cref="Note"/>).</param>
    public MethodLoop(ResNet18 model, ImageDataset train, int forgetClass, MethodSettings settings,
        Action<StepProgress>? progress = null, CancellationToken cancel = default, Action<string>? note = null)
    {
        (Model, Train, ForgetClass, Settings, this.progress, Cancel, this.note) = (model, train, forgetClass, settings, progress, cancel, note);
        Retain = EpochBatches.TrainingIndices(train, forgetClass < 0 ? null : forgetClass);
        Forget = forgetClass < 0 ? [] : train.IndicesOfClass(forgetClass);
        Step = new TrainingStep(model.Ops, model);
        pixels = new byte[(long)settings.BatchSize * train.ImageSize];
        pairedPixels = new byte[(long)settings.BatchSize * train.ImageSize];
        labels = new int[settings.BatchSize];
        pairedLabels = new int[settings.BatchSize];
    }

    public ResNet18 Model { get; }
    public ImageDataset Train { get; }
    /// <summary>The class to forget (-1 for training, which has none).</summary>
    public int ForgetClass { get; }
    public MethodSettings Settings { get; }
    public CancellationToken Cancel { get; }
    /// <summary>Every image not of the forget class (every image when there is none) / every image of it, in dataset order.</summary>
    public int[] Retain { get; }
    public int[] Forget { get; }
    public TrainingStep Step { get; }
    public int Taken { get; private set; }
    /// <summary>Images forwarded and backpropagated by the steps (a paired step counts both batches).</summary>
    public long Images { get; private set; }
    /// <summary>Counts <paramref name="images"/> forwarded and backpropagated outside <see cref="Epochs"/> (a method that measures
    /// gradients and takes no step, as SSD).</summary>
    public void CountMeasured(long images) => Images += images;

    /// <summary>Tells the user one line about the run that its figures would not show (SSD: how many parameters it dampened).</summary>
    public void Note(string line) => note?.Invoke(line);

    /// <summary>What the error says after the losses when a loss is not finite.</summary>
    public string Stopping { get; init; } = "stopping without writing a model (try a lower --lr)";

    /// <summary>A second network on the same device holding the original model, for teachers (call it before the first
    /// step); disposed with the loop.</summary>
    public ResNet18 Original()
    {
        if (Taken > 0) throw new InvalidOperationException("the original model is copied before the first step");
        return Network(ModelState.Read(Model));
    }

    /// <summary>A second network on the same device with the values <paramref name="state"/> (a randomly initialised teacher).</summary>
    public ResNet18 Network(IReadOnlyDictionary<string, float[]> state)
    {
        var network = new ResNet18(Model.Ops, Model.Config, Model.MaxBatch);
        teachers.Add(network);
        ModelState.Load(network, state);
        return network;
    }

    /// <summary>
    /// Runs epochs <paramref name="firstEpoch"/> .. <see cref="MethodSettings.Epochs"/> - 1 (or until <see cref="MethodSettings.MaxSteps"/>),
    /// each the passes <paramref name="passesOf"/>(epoch) gives; <paramref name="epochDone"/>(epoch, mean batch NLL weighted by
    /// batch size) after each whole epoch. NonFiniteLossException when a loss or the gradient norm is not finite.
    /// </summary>
    public void Epochs(Func<int, Pass[]> passesOf, int firstEpoch = 0, int? lastEpoch = null, Action<int, double>? epochDone = null)
    {
        var s = Settings;
        int b = s.BatchSize, end = lastEpoch ?? s.Epochs;
        int StepsOf(int e) => passesOf(e).Sum(p => (p.Indices.Length + b - 1) / b);
        long perRun = 0;
        for (int e = firstEpoch; e < end; e++) perRun += StepsOf(e);
        long total = Math.Min(perRun, s.MaxSteps ?? long.MaxValue);
        long takenHere = 0;
        var clock = Stopwatch.StartNew();
        for (int epoch = firstEpoch; epoch < end && takenHere < total; epoch++)
        {
            var update = s.UpdateAt(epoch);
            var passes = passesOf(epoch);
            int stepsThisEpoch = StepsOf(epoch), stepInEpoch = 0;
            double lossSum = 0;
            long images = 0;
            for (int p = 0; p < passes.Length; p++)
            {
                var pass = passes[p];
                int passSeed = pass.Seed ?? unchecked((int)DeterministicRandom.DeriveSeed(s.Seed, p));
                var relabel = new DeterministicRandom(DeterministicRandom.DeriveSeed(s.Seed, epoch, RelabelStream + 8 * p));
                var stream = pass.PairedStream is { } set
                    ? new EpochBatches.Stream(set, unchecked((int)DeterministicRandom.DeriveSeed(s.Seed, p, PairedStreamSeed)), epoch, s.Shuffle, s.Augment)
                    : null;
                foreach (var batch in EpochBatches.Of(pass.Indices, b, passSeed, epoch, s.Shuffle, s.Augment))
                {
                    if (takenHere == total) return;
                    Cancel.ThrowIfCancellationRequested();
                    int n = batch.Indices.Length;
                    Train.GatherImages(batch.Indices, pixels.AsSpan(0, n * Train.ImageSize));
                    Train.GatherLabels(batch.Indices, labels.AsSpan(0, n));
                    for (int i = 0; i < n; i++)
                        if (pass.Relabel == Relabel.Every || (pass.Relabel == Relabel.ForgetClassOnly && labels[i] == ForgetClass))
                            labels[i] = OtherClass(relabel);
                    int pairedCount = 0;
                    int[]? pairedAugmentation = null;
                    if (stream is not null)
                    {
                        var paired = stream.Next(n);
                        Train.GatherImages(paired.Indices, pairedPixels.AsSpan(0, n * Train.ImageSize));
                        Train.GatherLabels(paired.Indices, pairedLabels.AsSpan(0, n));
                        (pairedCount, pairedAugmentation) = (n, paired.Augmentation);
                    }
                    var r = pass.Step(new HostBatch(pixels.AsSpan(0, n * Train.ImageSize), labels.AsSpan(0, n), batch.Augmentation, n),
                        new HostBatch(pairedPixels.AsSpan(0, pairedCount * Train.ImageSize), pairedLabels.AsSpan(0, pairedCount), pairedAugmentation, pairedCount),
                        update);
                    if (!r.IsFinite)
                        throw new NonFiniteLossException($"{s.Method.Name} epoch {epoch + 1} step {stepInEpoch + 1}: " +
                            $"{(r.ForgetLoss is { } f ? $"forget loss {f}, retain loss" : "loss")} {r.RetainLoss}" +
                            $"{(r.Distillation is { } d ? $", distillation {d}" : "")}, gradient norm {r.GradientNorm}; {Stopping}");
                    Taken++;
                    takenHere++;
                    stepInEpoch++;
                    Images += n + pairedCount;
                    lossSum += (double)r.RetainLoss * n;
                    images += n;
                    double seconds = clock.Elapsed.TotalSeconds;
                    progress?.Invoke(new StepProgress(epoch + 1, s.Epochs, stepInEpoch, stepsThisEpoch, r, Images / Math.Max(seconds, 1e-9),
                        clock.Elapsed, TimeSpan.FromSeconds(seconds / takenHere * (total - takenHere)), pass.Name));
                }
            }
            epochDone?.Invoke(epoch, images == 0 ? double.NaN : lossSum / images);
        }
    }

    /// <summary>A class drawn uniformly from the classes other than the forget class.</summary>
    int OtherClass(DeterministicRandom rng)
    {
        int c = rng.NextInt(Train.ClassCount - 1);
        return c >= ForgetClass ? c + 1 : c;
    }

    public void Dispose()
    {
        Step.Dispose();
        foreach (var t in teachers) t.Dispose();
    }
}
