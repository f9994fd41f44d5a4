using System.Text.Json.Serialization;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>One of the Comparator's four CKA splits: which images of which set.</summary>
/// <param name="Name">train-forget, train-other, test-forget or test-other.</param>
public sealed record CkaSplit(string Name, bool Train, int[] Indices);

/// <summary>
/// Linear CKA per stage of one model against another (the unlearned model against the base or the retrained one), on the Comparator's four
/// splits, as its "layer-wise similarity" view shows it (the diagonal of pytorch-cka's layer x layer matrix: each stage
/// against the same stage). Values 0..1; null where a split has fewer than 4 images (the estimator needs n &gt; 3).
/// </summary>
public sealed record LayerCka
{
    /// <summary>The two models compared (their roles: unlearned, base, retrained); CKA is symmetric in them.</summary>
    [JsonPropertyName("model")] public string Model { get; init; } = "";
    [JsonPropertyName("reference")] public string Reference { get; init; } = "";
    [JsonPropertyName("layers")] public IReadOnlyList<string> Layers { get; init; } = ResNet18.StageNames;
    [JsonPropertyName("train_forget")] public double?[] TrainForget { get; init; } = [];
    [JsonPropertyName("train_other")] public double?[] TrainOther { get; init; } = [];
    [JsonPropertyName("test_forget")] public double?[] TestForget { get; init; } = [];
    [JsonPropertyName("test_other")] public double?[] TestOther { get; init; } = [];
    /// <summary>Images per split (train-forget, train-other, test-forget, test-other) that entered the estimate.</summary>
    [JsonPropertyName("images")] public int[] Images { get; init; } = [];

    /// <summary>The values of one split by its <see cref="CkaSplit.Name"/>.</summary>
    public double?[] Of(string split) => split switch
    {
        "train-forget" => TrainForget, "train-other" => TrainOther, "test-forget" => TestForget, "test-other" => TestOther,
        _ => throw new ArgumentException($"no CKA split '{split}'"),
    };
}

/// <summary>
/// The Unlearning Comparator's CKA (backend/app/utils/evaluation.py, calculate_cka_similarity, with pytorch-cka 1.0.1's
/// compute_cka; see <see cref="MinibatchCka"/>): stages conv1, layer1.0 ... layer4.1, fc (<see cref="ResNet18.StageNames"/>),
/// evaluation mode, no augmentation; the splits are the first len // 10 training images (in index order) of the forget class
/// and of the other classes, and the first len // 2 test images of each (CIFAR-10: 500, 4,500, 500, 4,500); minibatches of
/// <see cref="ComparatorBatch"/> images in order. Where the last minibatch of a split holds 3 or fewer images (pytorch-cka
/// refuses such a batch; the Comparator's CIFAR-10 splits never have one) those images are left out and
/// <see cref="LayerCka.Images"/> says so.
/// Memory: one model's stage outputs of one minibatch at a time (<see cref="ModelFeatures.Stages"/>: 1.25 GB at 1,000 CIFAR
/// images of the width-64 network, 0.97 GB for the grey 28x28 one) plus the 10 Gram matrices of every model compared
/// (80 MB per model at n = 1,000: 240 MB for unlearned, base and retrained). Time: one more evaluation forward of the split
/// images per model (CIFAR-10: 10,000 images, a sixth of both splits; Fashion-MNIST: 11,000) plus about n p / 2
/// multiply-adds per image for the Gram matrices (1,000 x 311,306 / 2 = 156 M for CIFAR, 28% of the forward's 0.56 G).
/// </summary>
public static class ComparatorCka
{
    /// <summary>The Comparator's DataLoader batch size for CKA (calculate_cka_similarity's batch_size=1000).</summary>
    public const int ComparatorBatch = 1000;

    /// <summary>The four splits for forget class <paramref name="forgetClass"/>, in the Comparator's order.</summary>
    public static IReadOnlyList<CkaSplit> Splits(ImageDataset train, ImageDataset test, int forgetClass)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        int[] First(int[] indices, int divisor) => indices[..(indices.Length / divisor)];
        return
        [
            new("train-forget", true, First(train.IndicesOfClass(forgetClass), 10)),
            new("train-other", true, First(train.IndicesNotOfClass(forgetClass), 10)),
            new("test-forget", false, First(test.IndicesOfClass(forgetClass), 2)),
            new("test-other", false, First(test.IndicesNotOfClass(forgetClass), 2)),
        ];
    }

    /// <summary>
    /// CKA per stage of every pair of <paramref name="judged"/> (named <paramref name="judgedName"/>) and
    /// <paramref name="references"/> (see the other overload), each loaded into its
    /// own model of <paramref name="config"/> on <paramref name="ops"/> sized for <paramref name="forwardBatch"/> images
    /// (so a model in use elsewhere is left alone; the arenas are 1 + references.Count times that of one model).
    /// </summary>
    public static IReadOnlyList<LayerCka> Compute(IOps ops, ResNet18Config config, string judgedName, ResNet18Weights judged,
        IReadOnlyList<(string Name, ResNet18Weights Weights)> references, DatasetSplit data, int forgetClass, int forwardBatch,
        CancellationToken cancel = default, Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        ArgumentNullException.ThrowIfNull(data);
        var models = new List<(string, ResNet18)>();
        try
        {
            var model = new ResNet18(ops, config, forwardBatch);
            models.Add((judgedName, model));
            ModelFiles.Load(model, judged);
            foreach (var (name, weights) in references)
            {
                var reference = new ResNet18(ops, config, forwardBatch);
                models.Add((name, reference));
                ModelFiles.Load(reference, weights);
            }
            return Compute(models, data.Train, data.Test, forgetClass, ComparatorBatch, cancel, progress);
        }
        finally
        {
            foreach (var (_, m) in models) m.Dispose();
        }
    }

    /// <summary>
    /// CKA per stage of every pair of <paramref name="models"/> (name, model; all of one shape): for models a, b, c the pairs
    /// (a, b), (a, c), (b, c), each model's stage outputs formed once per minibatch. <paramref name="progress"/>(images done,
    /// total) after each minibatch of each model.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two models, models of different shapes, or images another shape than they take.</exception>
    public static IReadOnlyList<LayerCka> Compute(IReadOnlyList<(string Name, ResNet18 Model)> models,
        ImageDataset train, ImageDataset test, int forgetClass, int batch = ComparatorBatch, CancellationToken cancel = default,
        Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count < 2) throw new ArgumentException("CKA compares at least two models");
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 4);
        var first = models[0].Model.Config;
        foreach (var (name, model) in models)
            if (model.Config with { Normalization = first.Normalization } != first)
                throw new ArgumentException($"the {name} model is {Shape(model.Config)}, the {models[0].Name} model {Shape(first)}");
        int stages = ResNet18.StageNames.Count;
        var sizes = Enumerable.Range(0, stages).Select(s => (int)models[0].Model.StageFeatureCount(s)).ToArray();
        var pairs = new List<(int A, int B)>();
        for (int a = 0; a < models.Count; a++)
            for (int b = a + 1; b < models.Count; b++) pairs.Add((a, b));
        var splits = Splits(train, test, forgetClass);
        var values = pairs.Select(_ => new double?[splits.Count][]).ToArray();
        var used = new int[splits.Count];
        long total = splits.Sum(s => (long)s.Indices.Length) * models.Count, done = 0;
        for (int si = 0; si < splits.Count; si++)
        {
            var split = splits[si];
            var data = split.Train ? train : test;
            var accumulators = pairs.Select(_ => new MinibatchCka(stages)).ToArray();
            for (int start = 0; start < split.Indices.Length; start += batch)
            {
                int n = Math.Min(batch, split.Indices.Length - start);
                if (n <= 3) break;
                used[si] += n;
                var indices = split.Indices[start..(start + n)];
                var grams = new double[models.Count][][];
                for (int m = 0; m < models.Count; m++)
                {
                    grams[m] = Grams(models[m].Model, data, indices, sizes, cancel);
                    progress?.Invoke(done += n, total);
                }
                for (int p = 0; p < pairs.Count; p++)
                    for (int s = 0; s < stages; s++) accumulators[p].Add(s, grams[pairs[p].A][s], grams[pairs[p].B][s], n);
            }
            for (int p = 0; p < pairs.Count; p++)
                values[p][si] = accumulators[p].Values().Select(v => double.IsNaN(v) ? (double?)null : v).ToArray();
        }
        return pairs.Select((pair, p) => new LayerCka
        {
            Model = models[pair.A].Name, Reference = models[pair.B].Name,
            TrainForget = values[p][0], TrainOther = values[p][1], TestForget = values[p][2], TestOther = values[p][3],
            Images = used,
        }).ToList();
    }

    static string Shape(ResNet18Config c) => $"width {c.Width}, {c.InputChannels}x{c.ImageSize}x{c.ImageSize} input, {c.Classes} classes";

    /// <summary>The centred Gram matrix of each stage of <paramref name="model"/> on the images.</summary>
    static double[][] Grams(ResNet18 model, ImageDataset data, int[] indices, int[] sizes, CancellationToken cancel)
    {
        var features = ModelFeatures.Stages(model, data, indices, cancel);
        var grams = new double[sizes.Length][];
        for (int s = 0; s < sizes.Length; s++)
        {
            cancel.ThrowIfCancellationRequested();
            grams[s] = MinibatchCka.CentredGram(features[s], indices.Length, sizes[s]);
            features[s] = []; // let the stage's outputs go as soon as their Gram matrix is formed
        }
        return grams;
    }
}
