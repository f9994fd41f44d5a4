using System.Diagnostics;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Unlearning;

/// <summary>How an unlearning run walks the data (ALGORITHM.md "AdvNegGrad, one epoch").</summary>
public sealed record UnlearningSchedule
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 2500;
    public int Seed { get; init; }
    public bool Shuffle { get; init; } = true;
    public bool Augment { get; init; } = true;
    /// <summary>The card's cosine schedule, stepped per epoch: lr_e = lr (1 + cos(pi e / T_max)) / 2.</summary>
    public int CosineTMax { get; init; } = 200;
    /// <summary>Stop after this many steps in all (benchmarks); null runs every epoch to the end.</summary>
    public int? MaxSteps { get; init; }

    public float LearningRateOfEpoch(float baseRate, int epoch) =>
        CosineTMax <= 0 ? baseRate : (float)(baseRate * (1 + Math.Cos(Math.PI * epoch / CosineTMax)) / 2);
}

/// <summary>What the progress line shows after each step; <see cref="Pass"/> names the set of a method's batch ("forget", "retain",
/// "retain+forget"), null for AdvNegGrad and training (whose results say it).</summary>
public readonly record struct StepProgress(int Epoch, int Epochs, int Step, int StepsPerEpoch, StepResult Result,
    double ImagesPerSecond, TimeSpan Elapsed, TimeSpan Remaining, string? Pass = null);

/// <summary>A loss or the gradient norm became NaN or Inf: the run stops and writes no model.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);

/// <summary>
/// Runs AdvNegGrad on a model: per epoch, the retain set in batches with an equal number of forget images each step
/// (<see cref="EpochPlan"/>), one <see cref="TrainingStep.Unlearn"/> per batch. Batches are gathered into buffers
/// allocated once; the only values read back per step are the two losses and the gradient norm.
/// </summary>
public static class UnlearningRun
{
    public static int Run(ResNet18 model, ImageDataset train, int forgetClass, AdvNegGradSettings settings,
        UnlearningSchedule schedule, Action<StepProgress>? progress = null, CancellationToken cancel = default)
    {
        settings.Validate();
        if (schedule.Epochs < 1) throw new ArgumentException($"--epochs must be at least 1, got {schedule.Epochs}");
        if (schedule.BatchSize < 1) throw new ArgumentException($"--batch-size must be at least 1, got {schedule.BatchSize}");
        if (schedule.BatchSize > model.MaxBatch) throw new ArgumentException($"batch size {schedule.BatchSize} exceeds the model's {model.MaxBatch}");
        if ((uint)forgetClass >= (uint)train.ClassCount) throw new ArgumentException($"forget class {forgetClass} is outside 0..{train.ClassCount - 1}");

        using var step = new TrainingStep(model.Ops, model);
        int b = schedule.BatchSize, imageBytes = train.ImageSize;
        var forgetPixels = new byte[(long)b * imageBytes];
        var retainPixels = new byte[(long)b * imageBytes];
        var forgetLabels = new int[b];
        var retainLabels = new int[b];
        var clock = Stopwatch.StartNew();
        long images = 0;
        int taken = 0;
        int stepsPerEpoch = (train.IndicesNotOfClass(forgetClass).Length + b - 1) / b;
        int totalSteps = Math.Min(schedule.Epochs * stepsPerEpoch, schedule.MaxSteps ?? int.MaxValue);

        for (int epoch = 0; epoch < schedule.Epochs && taken < totalSteps; epoch++)
        {
            var plan = EpochPlan.Create(train, forgetClass, b, schedule.Seed, schedule.Shuffle, schedule.Augment, epoch);
            var epochSettings = settings with { LearningRate = schedule.LearningRateOfEpoch(settings.LearningRate, epoch) };
            foreach (var s in plan.Steps)
            {
                if (taken == totalSteps) break;
                cancel.ThrowIfCancellationRequested();
                int n = s.BatchSize;
                train.GatherImages(s.ForgetIndices, forgetPixels.AsSpan(0, n * imageBytes));
                train.GatherImages(s.RetainIndices, retainPixels.AsSpan(0, n * imageBytes));
                train.GatherLabels(s.ForgetIndices, forgetLabels.AsSpan(0, n));
                train.GatherLabels(s.RetainIndices, retainLabels.AsSpan(0, n));
                var result = step.Unlearn(
                    new HostBatch(forgetPixels.AsSpan(0, n * imageBytes), forgetLabels.AsSpan(0, n), s.ForgetAugmentation, n),
                    new HostBatch(retainPixels.AsSpan(0, n * imageBytes), retainLabels.AsSpan(0, n), s.RetainAugmentation, n),
                    epochSettings, cancel);
                if (!result.IsFinite)
                    throw new NonFiniteLossException($"step {taken + 1}: forget loss {result.ForgetLoss}, retain loss {result.RetainLoss}, " +
                        $"gradient norm {result.GradientNorm}; stopping without writing a model (try a lower --lr or --alpha)");
                taken++;
                images += 2L * n;
                double rate = images / clock.Elapsed.TotalSeconds;
                var remaining = TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / taken * (totalSteps - taken));
                progress?.Invoke(new StepProgress(epoch + 1, schedule.Epochs, s.Index + 1, plan.Steps.Count, result, rate, clock.Elapsed, remaining));
            }
        }
        return taken;
    }
}
