using System.Text.Json.Serialization;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>
/// The relearning recipe. Defaults: 1% of the forget class's training images (CIFAR-10: 50, Fashion-MNIST: 60; at least 1),
/// drawn by a seeded shuffle, all in one batch, no augmentation, training-mode BatchNorm; plain SGD at lr 0.01 (the
/// Comparator's fine-tuning rate, FT's default here), momentum 0.9, weight decay 5e-4 (the base recipe's), no clipping;
/// at most 50 steps; the target is half the base model's forget-class test accuracy, checked before the first step and after
/// each on the first 250 forget-class test images (a binomial 95% half-width of at most 6.2 points).
/// </summary>
public sealed record RelearnSettings
{
    public double ImageFraction { get; init; } = 0.01;
    public float LearningRate { get; init; } = 0.01f;
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 5e-4f;
    public int MaxSteps { get; init; } = 50;
    public double TargetFraction { get; init; } = 0.5;
    public int EvaluationImages { get; init; } = 250;
    public int Seed { get; init; }
}

/// <summary>
/// Relearn time: how many fine-tuning steps on a few forget-class images bring a model's forget-class test accuracy back to a
/// fraction of the base model's (Golatkar et al., CVPR 2020, "Eternal Sunshine of the Spotless Net", measure forgetting by
/// the time to relearn). A model that only hides the class relearns it in a few steps; the retrained model, which never saw
/// it, sets the reference. Seeded and deterministic on one device.
/// Cost: per step one training step on the relearn images and one evaluation forward of the evaluation images (CIFAR-10
/// defaults: 50 + 250 images, at most 50 steps).
/// </summary>
public sealed record RelearnTime
{
    /// <summary>Steps until the target was reached (0: already at it); null when it was not within <see cref="MaxSteps"/>.</summary>
    [JsonPropertyName("steps")] public int? Steps { get; init; }
    [JsonPropertyName("max_steps")] public int MaxSteps { get; init; }
    /// <summary>The target forget-class test accuracy (%): the fraction of the base model's.</summary>
    [JsonPropertyName("target_accuracy")] public double TargetAccuracy { get; init; }
    /// <summary>Forget-class test accuracy (%, on the evaluation images) before the first step and after each step taken.</summary>
    [JsonPropertyName("accuracy_by_step")] public double[] AccuracyByStep { get; init; } = [];
    /// <summary>Relearn images (forget-class training images) and evaluation images (forget-class test images).</summary>
    [JsonPropertyName("images")] public int Images { get; init; }
    [JsonPropertyName("evaluation_images")] public int EvaluationImages { get; init; }
    /// <summary>Which training images were relearned (indices into the training split, ascending).</summary>
    [JsonPropertyName("image_indices")] public int[] ImageIndices { get; init; } = [];

    /// <summary>
    /// Fine-tunes a copy of <paramref name="weights"/> (a model of its own on <paramref name="ops"/>) as
    /// <paramref name="settings"/> say until its forget-class test accuracy reaches settings.TargetFraction x
    /// <paramref name="baseForgetAccuracy"/> (%).
    /// </summary>
    /// <exception cref="ArgumentException">No forget-class image in one of the splits.</exception>
    public static RelearnTime Measure(IOps ops, ResNet18Config config, ResNet18Weights weights, DatasetSplit data, int forgetClass,
        double baseForgetAccuracy, RelearnSettings settings, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(settings);
        var pool = data.Train.IndicesOfClass(forgetClass);
        var evaluation = data.Test.IndicesOfClass(forgetClass).Take(settings.EvaluationImages).ToArray();
        if (pool.Length == 0 || evaluation.Length == 0)
            throw new ArgumentException($"relearn time needs forget-class images in both splits ({pool.Length} training, {evaluation.Length} test)");
        int count = Math.Clamp((int)Math.Round(settings.ImageFraction * pool.Length), 1, pool.Length);
        var random = new Random(settings.Seed);
        random.Shuffle(pool);
        var chosen = pool[..count];
        Array.Sort(chosen);
        var pixels = new byte[(long)count * data.Train.ImageSize];
        data.Train.GatherImages(chosen, pixels);
        var labels = Enumerable.Repeat(forgetClass, count).ToArray();
        var evaluationImages = data.Test.Subset(evaluation, "forget-class test images");

        using var model = new ResNet18(ops, config, Math.Max(count, Math.Min(evaluation.Length, 100)));
        ModelFiles.Load(model, weights);
        using var step = new TrainingStep(ops, model);
        var update = new SgdUpdate(settings.LearningRate, settings.Momentum, settings.WeightDecay, Nesterov: false, Clip: 0);
        double target = settings.TargetFraction * baseForgetAccuracy;
        var accuracy = new List<double> { Accuracy(model, evaluationImages, forgetClass, cancel) };
        int? steps = accuracy[0] >= target ? 0 : null;
        while (steps is null && accuracy.Count <= settings.MaxSteps)
        {
            step.Step(new HostBatch(pixels, labels, [], count), BatchLoss.Descent, update, cancel: cancel);
            accuracy.Add(Accuracy(model, evaluationImages, forgetClass, cancel));
            if (accuracy[^1] >= target) steps = accuracy.Count - 1;
        }
        return new RelearnTime
        {
            Steps = steps, MaxSteps = settings.MaxSteps, TargetAccuracy = target, AccuracyByStep = [.. accuracy],
            Images = count, EvaluationImages = evaluation.Length, ImageIndices = chosen,
        };
    }

    static double Accuracy(ResNet18 model, ImageDataset images, int forgetClass, CancellationToken cancel)
    {
        var logits = Predictor.Logits(model, images, cancel);
        int classes = model.Config.Classes, correct = 0;
        for (int i = 0; i < images.Count; i++)
            if (NegativeLogLikelihood.ArgMax(logits.AsSpan(i * classes, classes)) == forgetClass) correct++;
        return SplitMetrics.Percent(correct, images.Count);
    }
}
