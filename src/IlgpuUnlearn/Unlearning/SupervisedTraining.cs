using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Unlearning;

/// <summary>
/// Plain supervised training (descent on the NLL loss of every class), used by the demo to make a base model to unlearn
/// from. Same step, optimiser and buffers as the unlearning run, without a forget batch.
/// </summary>
public static class SupervisedTraining
{
    public static void Run(ResNet18 model, ImageDataset train, AdvNegGradSettings settings, int epochs, int batchSize, int seed,
        Action<int, int, float>? epochDone = null, CancellationToken cancel = default)
    {
        using var step = new TrainingStep(model.Ops, model);
        var random = new Random(seed);
        var order = Enumerable.Range(0, train.Count).ToArray();
        var pixels = new byte[(long)batchSize * train.ImageSize];
        var labels = new int[batchSize];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            random.Shuffle(order);
            double lossSum = 0;
            int batches = 0;
            for (int start = 0; start < order.Length; start += batchSize)
            {
                cancel.ThrowIfCancellationRequested();
                int n = Math.Min(batchSize, order.Length - start);
                var indices = order.AsSpan(start, n);
                train.GatherImages(indices, pixels.AsSpan(0, n * train.ImageSize));
                train.GatherLabels(indices, labels.AsSpan(0, n));
                var r = step.Train(new HostBatch(pixels.AsSpan(0, n * train.ImageSize), labels.AsSpan(0, n), [], n), settings);
                if (!r.IsFinite) throw new NonFiniteLossException($"training epoch {epoch + 1}: loss {r.RetainLoss}, gradient norm {r.GradientNorm}");
                lossSum += r.RetainLoss;
                batches++;
            }
            epochDone?.Invoke(epoch + 1, epochs, (float)(lossSum / batches));
        }
    }
}
