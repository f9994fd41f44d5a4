using System.Diagnostics;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// Runs one of the Comparator's methods on a model: each is a short loop of <see cref="TrainingStep.Step"/> calls over
/// batches of the retain set R (every image not of the forget class k) and the forget set F (every image of class k), each
/// set shuffled per epoch (<see cref="TrainingEpoch.Batches"/>, smaller last batch kept), one <see cref="SgdUpdate"/> per batch,
/// the learning rate from the method's schedule, stepped per epoch. What each method's loop does, and the Comparator file
/// it follows (backend/app/threads/):
/// <list type="bullet">
/// <item>FT (unlearn_FT_thread.py): per epoch, descent on the NLL of each batch of R.</item>
/// <item>GA (unlearn_GA_thread.py): per epoch, ascent on the NLL of each batch of F (loss -NLL), clipped.</item>
/// <item>RL (unlearn_RL_thread.py): per epoch, descent on the NLL of each batch of R followed by F (one set, shuffled
/// together), every image of class k in a batch relabelled with a class drawn uniformly from the other classes.</item>
/// <item>SalUn (unlearn_SalUn_thread.py): once, the mask m = [s &gt;= the q-th largest s] with s the mean over the first
/// <see cref="MethodSettings.SaliencyBatches"/> batches of F of |gradient of the NLL|, per parameter, q = floor(threshold P) of the
/// P parameters (a global threshold, not per tensor); then per epoch, every batch of F relabelled wholly with random other
/// classes, then every batch of R, each a descent on the NLL with the gradient multiplied by m, clipped; after each update one
/// more training-mode forward of the batch (the Comparator's accuracy tracking, which moves the BatchNorm running statistics).</item>
/// <item>SCRUB (unlearn_SCRUB_thread.py): once, the Fisher information f = (sum over retain batches of g_b^2) / samples, g_b the
/// gradient of batch b's mean NLL, over whole batches of R until <see cref="MethodSettings.FisherSamples"/> samples; then per
/// epoch, while epoch &lt; msteps, every batch of F with loss -alpha KD (the gradient multiplied by 1 / (f + 1e-8)), then every
/// batch of R with loss alpha KD + gamma NLL, each clipped; KD = T^2/N sum KL(softmax(t/T) || softmax(s/T)), t the logits of the
/// original model (a second ResNet18, evaluation mode, same device).</item>
/// </list>
/// SalUn's saliency and SCRUB's Fisher information are measured with the model in evaluation mode, as the Comparator does
/// (<c>self.model.eval()</c> before each measurement): BatchNorm on its running statistics, which the measurement leaves as
/// they are (<see cref="TrainingStep.BatchGradient"/>). Deviation: the Comparator draws RL's labels from a clock-seeded
/// generator; here they come from the seed.
/// </summary>
public static class MethodRun
{
    const long RelabelStream = 31, SaliencyStream = 32, FisherStream = 33;

    /// <summary>Runs <paramref name="settings"/>' method; returns the steps taken and the images they forwarded and backpropagated. <paramref name="teacher"/> (SCRUB only) holds the
    /// original model. Throws <see cref="NonFiniteLossException"/> when a loss or the gradient norm is not finite.</summary>
    public static (int Steps, long Images) Run(ResNet18 model, ImageDataset train, int forgetClass, MethodSettings settings, ResNet18? teacher = null,
        Action<StepProgress>? progress = null, CancellationToken cancel = default)
    {
        settings.Validate();
        if (settings.BatchSize > model.MaxBatch) throw new ArgumentException($"batch size {settings.BatchSize} exceeds the model's {model.MaxBatch}");
        if ((uint)forgetClass >= (uint)train.ClassCount) throw new ArgumentException($"forget class {forgetClass} is outside 0..{train.ClassCount - 1}");
        if (train.ClassCount < 2) throw new ArgumentException($"{train.Name} has one class: nothing to relabel or retain");
        var method = settings.Method;
        int[] retain = train.IndicesNotOfClass(forgetClass), forget = train.IndicesOfClass(forgetClass);
        if (method != UnlearningMethod.GA && retain.Length == 0) throw new ArgumentException($"{method} needs a retain set; {train.Name} has only class {forgetClass}");
        if (method != UnlearningMethod.FT && forget.Length == 0) throw new ArgumentException($"{method} needs a forget set; {train.Name} has no image of class {forgetClass}");
        if (method == UnlearningMethod.SCRUB && teacher is null) throw new ArgumentException("SCRUB needs the original model as its teacher");

        using var run = new Loop(model, train, forgetClass, settings, progress, cancel);
        switch (method)
        {
            case UnlearningMethod.FT:
                run.Epochs(e => [new(retain, BatchLoss.Descent)]);
                break;
            case UnlearningMethod.GA:
                run.Epochs(e => [new(forget, BatchLoss.Ascent, IsForget: true)]);
                break;
            case UnlearningMethod.RL:
                run.Epochs(e => [new([.. retain, .. forget], BatchLoss.Descent, Relabel: Relabel.ForgetClassOnly, Mixed: true)]);
                break;
            case UnlearningMethod.SalUn:
            {
                using var mask = model.Ops.Allocate<float>(model.Layout.ParameterCount);
                model.Ops.Upload<float>(SaliencyMask(run.Step, model, train, forget, settings, cancel), mask.All);
                run.Epochs(e => [new(forget, BatchLoss.Descent, mask.All, Relabel.Every, TrackingForward: true, IsForget: true),
                                 new(retain, BatchLoss.Descent, mask.All, TrackingForward: true)]);
                break;
            }
            case UnlearningMethod.SCRUB:
            {
                using var inverseFisher = model.Ops.Allocate<float>(model.Layout.ParameterCount);
                model.Ops.Upload<float>(InverseFisher(run.Step, model, train, retain, settings, cancel), inverseFisher.All);
                var away = new BatchLoss(0f, teacher, settings.KdTemperature, -settings.ScrubAlpha);
                var towards = new BatchLoss(settings.ScrubGamma, teacher, settings.KdTemperature, settings.ScrubAlpha);
                run.Epochs(e => e < settings.MSteps
                    ? [new(forget, away, inverseFisher.All, IsForget: true), new(retain, towards)]
                    : [new(retain, towards)]);
                break;
            }
            default:
                throw new ArgumentException($"{method} is not run here");
        }
        return (run.Taken, run.Images);
    }

    enum Relabel { None, ForgetClassOnly, Every }

    /// <summary>One pass of an epoch: the set, the loss, the gradient factor, relabelling, SalUn's extra forward.</summary>
    sealed record Pass(int[] Indices, BatchLoss Loss, Slice<float>? Factor = null, Relabel Relabel = Relabel.None,
        bool TrackingForward = false, bool IsForget = false, bool Mixed = false)
    {
        public string Name => Mixed ? "retain+forget" : IsForget ? "forget" : "retain";
    }

    /// <summary>The epoch loop every method shares: batches, relabelling, steps, progress, the non-finite check.</summary>
    sealed class Loop(ResNet18 model, ImageDataset train, int forgetClass, MethodSettings settings,
        Action<StepProgress>? progress, CancellationToken cancel) : IDisposable
    {
        public readonly TrainingStep Step = new(model.Ops, model);
        readonly byte[] pixels = new byte[(long)settings.BatchSize * train.ImageSize];
        readonly int[] labels = new int[settings.BatchSize];
        public int Taken { get; private set; }
        public long Images { get; private set; }

        public void Epochs(Func<int, Pass[]> passesOf)
        {
            int b = settings.BatchSize;
            int StepsOf(int e) => passesOf(e).Sum(p => (p.Indices.Length + b - 1) / b);
            int perRun = Enumerable.Range(0, settings.Epochs).Sum(StepsOf);
            int total = Math.Min(perRun, settings.MaxSteps ?? int.MaxValue);
            var clock = Stopwatch.StartNew();
            for (int epoch = 0; epoch < settings.Epochs && Taken < total; epoch++)
            {
                var update = settings.UpdateAt(epoch);
                var passes = passesOf(epoch);
                int stepsThisEpoch = StepsOf(epoch), stepInEpoch = 0;
                for (int p = 0; p < passes.Length; p++)
                {
                    var pass = passes[p];
                    // Each pass draws its own order (and labels) from (seed, epoch, pass).
                    int passSeed = unchecked((int)DeterministicRandom.DeriveSeed(settings.Seed, p));
                    var relabel = new DeterministicRandom(DeterministicRandom.DeriveSeed(settings.Seed, epoch, RelabelStream + 8 * p));
                    foreach (var batch in TrainingEpoch.Batches(pass.Indices, b, passSeed, epoch, settings.Shuffle, settings.Augment))
                    {
                        if (Taken == total) return;
                        cancel.ThrowIfCancellationRequested();
                        int n = batch.Indices.Length;
                        train.GatherImages(batch.Indices, pixels.AsSpan(0, n * train.ImageSize));
                        train.GatherLabels(batch.Indices, labels.AsSpan(0, n));
                        for (int i = 0; i < n; i++)
                            if (pass.Relabel == Relabel.Every || (pass.Relabel == Relabel.ForgetClassOnly && labels[i] == forgetClass))
                                labels[i] = OtherClass(relabel, forgetClass, train.ClassCount);
                        var r = Step.Step(new HostBatch(pixels.AsSpan(0, n * train.ImageSize), labels.AsSpan(0, n), batch.Augmentation, n),
                            pass.Loss, update, pass.Factor, pass.TrackingForward, cancel);
                        if (!r.IsFinite)
                            throw new NonFiniteLossException($"{settings.Method} epoch {epoch + 1} step {stepInEpoch + 1}: loss {r.RetainLoss}" +
                                $"{(r.Distillation is { } d ? $", distillation {d}" : "")}, gradient norm {r.GradientNorm}; stopping without writing a model (try a lower --lr)");
                        Taken++;
                        stepInEpoch++;
                        Images += n;
                        double seconds = clock.Elapsed.TotalSeconds;
                        progress?.Invoke(new StepProgress(epoch + 1, settings.Epochs, stepInEpoch, stepsThisEpoch,
                            r, Images / Math.Max(seconds, 1e-9), clock.Elapsed, TimeSpan.FromSeconds(seconds / Taken * (total - Taken)),
                            pass.Name));
                    }
                }
            }
        }

        public void Dispose() => Step.Dispose();
    }

    /// <summary>A class drawn uniformly from the classes other than <paramref name="forgetClass"/>.</summary>
    static int OtherClass(DeterministicRandom rng, int forgetClass, int classes)
    {
        int c = rng.NextInt(classes - 1);
        return c >= forgetClass ? c + 1 : c;
    }

    /// <summary>
    /// SalUn's mask (threads/unlearn_SalUn_thread.py, _compute_gradient_saliency): s = (sum over the first B batches of F of
    /// |g_b|) / B in float32, g_b the gradient of batch b's mean NLL (the sign of the Comparator's -NLL does not matter under
    /// |.|), measured in evaluation mode as the Comparator does; q = floor(threshold * P); the mask is 1 where s &gt;= the q-th
    /// largest s (ties included, as the Comparator's <c>&gt;=</c> does), 0 elsewhere; all 0 when q = 0. On the host, once per run.
    /// </summary>
    public static float[] SaliencyMask(TrainingStep step, ResNet18 model, ImageDataset train, int[] forget, MethodSettings settings,
        CancellationToken cancel = default)
    {
        long p = model.Layout.ParameterCount;
        var sum = new float[p];
        var g = new float[p];
        int batches = 0;
        foreach (var batch in MeasuringBatches(forget, settings, SaliencyStream).Take(settings.SaliencyBatches))
        {
            GradientOf(step, train, batch, g, cancel);
            for (long i = 0; i < p; i++) sum[i] += MathF.Abs(g[i]);
            batches++;
        }
        for (long i = 0; i < p; i++) sum[i] /= batches;
        long q = (long)(settings.SaliencyThreshold * p);
        var mask = new float[p];
        if (q == 0) return mask;
        var sorted = (float[])sum.Clone();
        Array.Sort(sorted);
        float threshold = sorted[p - q]; // the q-th largest
        for (long i = 0; i < p; i++) mask[i] = sum[i] >= threshold ? 1f : 0f;
        return mask;
    }

    /// <summary>
    /// SCRUB's gradient factor (threads/unlearn_SCRUB_thread.py, _compute_fisher_information): f = (sum over whole batches of R,
    /// until at least <see cref="MethodSettings.FisherSamples"/> samples, of g_b^2) / samples, in float32, measured in evaluation
    /// mode as the Comparator does; returns 1 / (f + 1e-8). On the host, once per run.
    /// </summary>
    public static float[] InverseFisher(TrainingStep step, ResNet18 model, ImageDataset train, int[] retain, MethodSettings settings,
        CancellationToken cancel = default)
    {
        long p = model.Layout.ParameterCount;
        var fisher = new float[p];
        var g = new float[p];
        int samples = 0;
        foreach (var batch in MeasuringBatches(retain, settings, FisherStream))
        {
            if (samples >= settings.FisherSamples) break;
            GradientOf(step, train, batch, g, cancel);
            for (long i = 0; i < p; i++) fisher[i] += g[i] * g[i];
            samples += batch.Indices.Length;
        }
        var inverse = new float[p];
        for (long i = 0; i < p; i++) inverse[i] = 1f / (fisher[i] / samples + 1e-8f);
        return inverse;
    }

    /// <summary>The batches a measurement walks: the set in its own shuffled order (the Comparator's loaders reshuffle per pass).</summary>
    static IEnumerable<TrainingBatch> MeasuringBatches(int[] indices, MethodSettings settings, long stream) =>
        TrainingEpoch.Batches(indices, settings.BatchSize, unchecked((int)DeterministicRandom.DeriveSeed(settings.Seed, stream)), 0,
            settings.Shuffle, settings.Augment);

    static void GradientOf(TrainingStep step, ImageDataset train, TrainingBatch batch, float[] gradient, CancellationToken cancel)
    {
        int n = batch.Indices.Length;
        var pixels = new byte[(long)n * train.ImageSize];
        var labels = new int[n];
        train.GatherImages(batch.Indices, pixels);
        train.GatherLabels(batch.Indices, labels);
        float loss = step.BatchGradient(new HostBatch(pixels, labels, batch.Augmentation, n), gradient, GradientLoss.MeanNll, cancel);
        if (!float.IsFinite(loss)) throw new NonFiniteLossException($"measuring gradients: batch loss {loss}; stopping without writing a model");
    }
}
