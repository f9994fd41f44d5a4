using IlgpuUnlearn.Data;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>The shapes a self-test runs: by default every layer shape of the CIFAR ResNet18 at one batch size.</summary>
public sealed record SelfTestShapes(
    int Batch,
    int ImageSize,
    IReadOnlyList<ConvShape> Convolutions,
    IReadOnlyList<BatchNormShape> BatchNorms,
    LinearShape Head,
    int PoolChannels,
    int PoolPositions,
    long FlatLength)
{
    /// <summary>Also check every kernel version of <see cref="KernelVersions"/> (when the ops under test are an <see cref="IlgpuOps"/>).</summary>
    public bool EveryVersion { get; init; } = true;

    /// <summary>The batch of the naive convolution checks (its weight gradient, one thread per weight, is far too slow at 256).</summary>
    public int NaiveBatch { get; init; } = 8;

    /// <summary>
    /// The distinct layer shapes of ResNet18 with a CIFAR stem: widths w, 2w, 4w, 8w at sizes s, s/2, s/4, s/8,
    /// the 3x3 stride-2 convs and the 1x1 stride-2 downsamples, the head, and a flat parameter vector of
    /// <paramref name="flatLength"/> (11,173,962 for the real network).
    /// </summary>
    public static SelfTestShapes ResNet18(int batch = 256, int baseWidth = 64, int imageSize = 32, long flatLength = 11_173_962)
    {
        var convs = new List<ConvShape> { new(batch, 3, imageSize, imageSize, baseWidth, 3, 1, 1) };
        var norms = new List<BatchNormShape>();
        int width = baseWidth, size = imageSize;
        for (int stage = 0; stage < 4; stage++)
        {
            if (stage > 0)
            {
                convs.Add(new(batch, width, size, size, 2 * width, 3, 2, 1));   // first conv of the stage, stride 2
                convs.Add(new(batch, width, size, size, 2 * width, 1, 2, 0));   // downsample
                width *= 2;
                size /= 2;
            }
            convs.Add(new(batch, width, size, size, width, 3, 1, 1));
            norms.Add(new(batch, width, size * size));
        }
        return new SelfTestShapes(batch, imageSize, convs, norms, new LinearShape(batch, width, 10), width, size * size, flatLength);
    }
}

/// <summary>
/// Runs every op on the device under test and on the reference (the CPU path) with the same seeded inputs and prints the worst
/// errors per op. Meant for a CUDA machine (<c>Run(cudaOps, new CpuOps(), Console.Out)</c>); with reduced shapes it also runs on
/// ILGPU's CPU accelerator.
/// </summary>
public static class IlgpuSelfTest
{
    // Normwise tolerances (max |error| / max |reference|), with fp32 sums in different orders on both sides.
    public const double ElementwiseTolerance = 1e-6;
    public const double ConvTolerance = 2e-4;
    public const double WeightGradientTolerance = 1e-3;
    public const double BatchNormTolerance = 2e-4;
    public const double HeadTolerance = 1e-5;
    public const double ReductionTolerance = 1e-4;

    /// <summary>Every op on the ResNet18 shapes at batch 256. Returns 0 when all pass, 1 otherwise.</summary>
    public static int Run(IOps gpu, IOps cpu, TextWriter output) => Run(gpu, cpu, output, SelfTestShapes.ResNet18());

    public static int Run(IOps gpu, IOps cpu, TextWriter output, SelfTestShapes shapes)
    {
        output.WriteLine($"self-test: {gpu.Name} against {cpu.Name}, batch {shapes.Batch}");
        var results = new List<OpComparison>();
        void Report(IEnumerable<OpComparison> comparisons)
        {
            foreach (var c in comparisons)
            {
                results.Add(c);
                output.WriteLine(c);
            }
            output.Flush();
        }

        using (var c = new OpComparer(gpu, cpu, seed: 1))
        {
            Report(CheckLoadImages(c, shapes.Batch, shapes.ImageSize, pad: 4, augment: false));
            Report(CheckLoadImages(c, shapes.Batch, shapes.ImageSize, pad: 4, augment: true));
        }
        foreach (var s in shapes.Convolutions)
        {
            using var c = new OpComparer(gpu, cpu, seed: 2);
            Report(CheckConv(c, s));
        }
        foreach (var s in shapes.BatchNorms)
        {
            using var c = new OpComparer(gpu, cpu, seed: 3);
            Report(CheckBatchNorm(c, s));
            Report(CheckRelu(c, s.Length));
        }
        using (var c = new OpComparer(gpu, cpu, seed: 4))
        {
            Report(CheckPool(c, shapes.Batch, shapes.PoolChannels, shapes.PoolPositions));
            Report(CheckLinear(c, shapes.Head));
            Report(CheckLoss(c, shapes.Batch, shapes.Head.Out, scale: 1f));
            Report(CheckLoss(c, shapes.Batch, shapes.Head.Out, scale: -0.15f));
            Report(CheckKlDivergence(c, shapes.Batch, shapes.Head.Out, temperature: 4f, scale: 1f, accumulate: false));
            Report(CheckKlDivergence(c, shapes.Batch, shapes.Head.Out, temperature: 1f, scale: -1f, accumulate: true));
        }
        using (var c = new OpComparer(gpu, cpu, seed: 5))
        {
            Report(CheckFlat(c, shapes.FlatLength));
            Report(CheckMultiply(c, shapes.FlatLength));
            Report(CheckAddScaledSign(c, shapes.FlatLength));
            Report(CheckOptimizer(c, shapes.FlatLength, clip: 0.5f, nesterov: true));
            Report(CheckOptimizer(c, shapes.FlatLength, clip: 0.5f, nesterov: true, masked: true));
        }

        if (shapes.EveryVersion && gpu is IlgpuOps ilgpu)
            Report(CheckVersions(ilgpu, cpu, shapes));

        int failed = results.Count(r => !r.Passed);
        output.WriteLine(failed == 0
            ? $"self-test passed: {results.Count} checks"
            : $"self-test FAILED: {failed} of {results.Count} checks");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// Every convolution and batch-norm version of <see cref="KernelVersions"/> that runs on this accelerator, on every shape
    /// (the naive convolution at <see cref="SelfTestShapes.NaiveBatch"/>), each against the CPU path with its own tolerance.
    /// The versions are further IlgpuOps on the same accelerator; the reference is computed once per shape.
    /// </summary>
    public static IEnumerable<OpComparison> CheckVersions(IlgpuOps gpu, IOps cpu, SelfTestShapes shapes)
    {
        bool cuda = gpu.Accelerator.AcceleratorType == ILGPU.Runtime.AcceleratorType.Cuda;
        var convs = KernelVersions.Runnable(KernelVersions.Convolution, cuda).Select(v => (v, Open(gpu, v))).ToList();
        var norms = KernelVersions.Runnable(KernelVersions.BatchNorm, cuda).Select(v => (v, Open(gpu, v))).ToList();
        try
        {
            var results = new List<OpComparison>();
            foreach (var s in shapes.Convolutions)
            {
                var others = convs.Where(p => p.v.Name != "naive").Select(p => (p.v, (IOps)p.Item2)).ToList();
                using (var c = new OpComparer(gpu, cpu, seed: 6))
                    results.AddRange(CheckConvVersions(c, s, others));
                var naive = convs.Where(p => p.v.Name == "naive").Select(p => (p.v, (IOps)p.Item2)).ToList();
                if (naive.Count > 0)
                {
                    using var c = new OpComparer(gpu, cpu, seed: 7);
                    results.AddRange(CheckConvVersions(c, s with { N = Math.Min(s.N, shapes.NaiveBatch) }, naive));
                }
            }
            foreach (var s in shapes.BatchNorms)
                foreach (var (v, ops) in norms)
                {
                    using var c = new OpComparer(ops, cpu, seed: 8);
                    results.AddRange(CheckBatchNorm(c, s).Select(r => r with { Op = $"{r.Op} [{v.Name}]" }));
                }
            return results;
        }
        finally
        {
            foreach (var (_, ops) in convs.Concat(norms))
                ops.Dispose();
        }
    }

    private static IlgpuOps Open(IlgpuOps gpu, KernelVersion v)
        => new(gpu.Accelerator, v.Options with { ReductionGroupSize = gpu.Options.ReductionGroupSize, WeightGradientSplits = gpu.Options.WeightGradientSplits });

    /// <summary>
    /// One convolution shape through several versions that share the accelerator of <paramref name="c"/>'s test side: the CPU
    /// reference once, then each version from outputs reset to NaN (so an element a version fails to write fails the check).
    /// </summary>
    public static IEnumerable<OpComparison> CheckConvVersions(OpComparer c, ConvShape s, IReadOnlyList<(KernelVersion Version, IOps Ops)> versions)
    {
        string shape = $"{s.N}x{s.Cin}x{s.H}x{s.W} -> {s.Cout} k{s.K} s{s.Stride} p{s.Pad}";
        float wScale = 1f / MathF.Sqrt(s.Cin * s.K * s.K);
        var x = c.Uniform(s.InputLength);
        var w = c.Uniform(s.WeightLength, -wScale, wScale);
        var dy = c.Uniform(s.OutputLength);
        var y = c.Zeros(s.OutputLength);
        var dx = c.Zeros(s.InputLength);
        var dw = c.Zeros(s.WeightLength);
        c.Reference.Conv2dForward(s, x.Ref, w.Ref, y.Ref);
        c.Reference.Conv2dBackwardInput(s, dy.Ref, w.Ref, dx.Ref);
        c.Reference.Conv2dBackwardWeight(s, x.Ref, dy.Ref, dw.Ref);
        var results = new List<OpComparison>();
        foreach (var (version, ops) in versions)
        {
            c.Test.Fill(y.Test, float.NaN);
            c.Test.Fill(dx.Test, float.NaN);
            c.Test.Fill(dw.Test, float.NaN);
            ops.Conv2dForward(s, x.Test, w.Test, y.Test);
            ops.Conv2dBackwardInput(s, dy.Test, w.Test, dx.Test);
            ops.Conv2dBackwardWeight(s, x.Test, dy.Test, dw.Test);
            results.Add(c.Compare($"Conv2dForward [{version.Name}]", shape, y, version.Tolerance));
            results.Add(c.Compare($"Conv2dBackwardInput [{version.Name}]", shape, dx, version.Tolerance));
            results.Add(c.Compare($"Conv2dBackwardWeight [{version.Name}]", shape, dw, Math.Max(version.Tolerance, WeightGradientTolerance)));
        }
        return results;
    }

    // ---- one family each -----------------------------------------------------------------------

    /// <summary>LoadImages on (n, channels, size, size) bytes: 3 colour channels, or 1 for grey images (Fashion-MNIST).</summary>
    public static IEnumerable<OpComparison> CheckLoadImages(OpComparer c, int n, int size, int pad, bool augment, int channels = 3)
    {
        var pixels = new byte[(long)channels * n * size * size];
        for (long i = 0; i < pixels.Length; i++)
            pixels[i] = (byte)c.Next(256);
        var aug = new int[3 * n];
        for (int i = 0; i < n; i++)
        {
            aug[3 * i] = c.Next(2 * pad + 1);
            aug[3 * i + 1] = c.Next(2 * pad + 1);
            aug[3 * i + 2] = c.Next(2);
        }
        var p = c.Upload(pixels);
        var a = c.Upload(aug);
        var x = c.Uniform(pixels.Length);
        var normalization = (channels == 1 ? InputNormalization.FashionMnist : InputNormalization.Cifar10).ForChannels(channels);
        float[] mean = normalization.Mean, std = normalization.Std;
        c.Test.LoadImages(n, size, size, p.Test, augment ? a.Test : null, pad, mean, std, x.Test);
        c.Reference.LoadImages(n, size, size, p.Ref, augment ? a.Ref : null, pad, mean, std, x.Ref);
        yield return c.Compare(augment ? "LoadImages(augment)" : "LoadImages", $"({n},{channels},{size},{size}) pad {pad}", x, ElementwiseTolerance);
    }

    public static IEnumerable<OpComparison> CheckConv(OpComparer c, ConvShape s)
    {
        string shape = $"{s.N}x{s.Cin}x{s.H}x{s.W} -> {s.Cout} k{s.K} s{s.Stride} p{s.Pad}";
        float wScale = 1f / MathF.Sqrt(s.Cin * s.K * s.K);
        var x = c.Uniform(s.InputLength);
        var w = c.Uniform(s.WeightLength, -wScale, wScale);
        var dy = c.Uniform(s.OutputLength);
        // Outputs start as garbage: the ops must write them, not accumulate into them.
        var y = c.Uniform(s.OutputLength);
        var dx = c.Uniform(s.InputLength);
        var dw = c.Uniform(s.WeightLength);

        c.Test.Conv2dForward(s, x.Test, w.Test, y.Test);
        c.Reference.Conv2dForward(s, x.Ref, w.Ref, y.Ref);
        yield return c.Compare("Conv2dForward", shape, y, ConvTolerance);

        c.Test.Conv2dBackwardInput(s, dy.Test, w.Test, dx.Test);
        c.Reference.Conv2dBackwardInput(s, dy.Ref, w.Ref, dx.Ref);
        yield return c.Compare("Conv2dBackwardInput", shape, dx, ConvTolerance);

        c.Test.Conv2dBackwardWeight(s, x.Test, dy.Test, dw.Test);
        c.Reference.Conv2dBackwardWeight(s, x.Ref, dy.Ref, dw.Ref);
        yield return c.Compare("Conv2dBackwardWeight", shape, dw, WeightGradientTolerance);
    }

    public static IEnumerable<OpComparison> CheckBatchNorm(OpComparer c, BatchNormShape s)
    {
        string shape = $"N {s.N} C {s.C} HW {s.HW}";
        var x = c.Upload(Shifted(c.RandomFloats(s.Length, -2f, 2f), s, c));
        var gamma = c.Uniform(s.C, 0.5f, 1.5f);
        var beta = c.Uniform(s.C, -0.5f, 0.5f);
        var runningMean = c.Uniform(s.C, -0.2f, 0.2f);
        var runningVar = c.Uniform(s.C, 0.5f, 2f);
        var y = c.Uniform(s.Length);
        var saveMean = c.Uniform(s.C);
        var saveInvStd = c.Uniform(s.C);
        const float momentum = 0.1f, eps = 1e-5f;

        c.Test.BatchNormEvalForward(s, x.Test, gamma.Test, beta.Test, runningMean.Test, runningVar.Test, eps, y.Test);
        c.Reference.BatchNormEvalForward(s, x.Ref, gamma.Ref, beta.Ref, runningMean.Ref, runningVar.Ref, eps, y.Ref);
        yield return c.Compare("BatchNormEvalForward", shape, y, BatchNormTolerance);

        c.Test.BatchNormTrainForward(s, x.Test, gamma.Test, beta.Test, runningMean.Test, runningVar.Test, momentum, eps, y.Test, saveMean.Test, saveInvStd.Test);
        c.Reference.BatchNormTrainForward(s, x.Ref, gamma.Ref, beta.Ref, runningMean.Ref, runningVar.Ref, momentum, eps, y.Ref, saveMean.Ref, saveInvStd.Ref);
        yield return c.Compare("BatchNormTrainForward y", shape, y, BatchNormTolerance);
        yield return c.Compare("BatchNormTrainForward mean", shape, saveMean, BatchNormTolerance);
        yield return c.Compare("BatchNormTrainForward invStd", shape, saveInvStd, BatchNormTolerance);
        yield return c.Compare("BatchNorm running mean", shape, runningMean, BatchNormTolerance);
        yield return c.Compare("BatchNorm running var", shape, runningVar, BatchNormTolerance);

        var recomputed = c.Uniform(s.Length);
        c.Test.BatchNormApply(s, x.Test, gamma.Test, beta.Test, saveMean.Test, saveInvStd.Test, recomputed.Test);
        c.Reference.BatchNormApply(s, x.Ref, gamma.Ref, beta.Ref, saveMean.Ref, saveInvStd.Ref, recomputed.Ref);
        yield return c.Compare("BatchNormApply", shape, recomputed, BatchNormTolerance);

        var dy = c.Uniform(s.Length);
        var dx = c.Uniform(s.Length);
        var dgamma = c.Uniform(s.C);
        var dbeta = c.Uniform(s.C);
        c.Test.BatchNormBackward(s, x.Test, dy.Test, gamma.Test, saveMean.Test, saveInvStd.Test, dx.Test, dgamma.Test, dbeta.Test);
        c.Reference.BatchNormBackward(s, x.Ref, dy.Ref, gamma.Ref, saveMean.Ref, saveInvStd.Ref, dx.Ref, dgamma.Ref, dbeta.Ref);
        yield return c.Compare("BatchNormBackward dx", shape, dx, BatchNormTolerance);
        yield return c.Compare("BatchNormBackward dgamma", shape, dgamma, BatchNormTolerance);
        yield return c.Compare("BatchNormBackward dbeta", shape, dbeta, BatchNormTolerance);

        // Evaluation mode with gradients: the running statistics as saved statistics, the forward through BatchNormApply,
        // then the backward with fixed statistics.
        c.Test.BatchNormEvalStatistics(s.C, runningMean.Test, runningVar.Test, eps, saveMean.Test, saveInvStd.Test);
        c.Reference.BatchNormEvalStatistics(s.C, runningMean.Ref, runningVar.Ref, eps, saveMean.Ref, saveInvStd.Ref);
        yield return c.Compare("BatchNormEvalStatistics mean", shape, saveMean, BatchNormTolerance);
        yield return c.Compare("BatchNormEvalStatistics invStd", shape, saveInvStd, BatchNormTolerance);
        c.Test.BatchNormApply(s, x.Test, gamma.Test, beta.Test, saveMean.Test, saveInvStd.Test, recomputed.Test);
        c.Reference.BatchNormEvalForward(s, x.Ref, gamma.Ref, beta.Ref, runningMean.Ref, runningVar.Ref, eps, recomputed.Ref);
        yield return c.Compare("BatchNormApply of EvalStatistics = BatchNormEvalForward", shape, recomputed, BatchNormTolerance);
        c.Test.BatchNormEvalBackward(s, x.Test, dy.Test, gamma.Test, saveMean.Test, saveInvStd.Test, dx.Test, dgamma.Test, dbeta.Test);
        c.Reference.BatchNormEvalBackward(s, x.Ref, dy.Ref, gamma.Ref, saveMean.Ref, saveInvStd.Ref, dx.Ref, dgamma.Ref, dbeta.Ref);
        yield return c.Compare("BatchNormEvalBackward dx", shape, dx, BatchNormTolerance);
        yield return c.Compare("BatchNormEvalBackward dgamma", shape, dgamma, BatchNormTolerance);
        yield return c.Compare("BatchNormEvalBackward dbeta", shape, dbeta, BatchNormTolerance);
    }

    /// <summary>Gives every channel its own offset and spread, as real activations have.</summary>
    private static float[] Shifted(float[] x, BatchNormShape s, OpComparer c)
    {
        var offset = c.RandomFloats(s.C, -1f, 1f);
        var spread = c.RandomFloats(s.C, 0.2f, 2f);
        for (long i = 0; i < x.Length; i++)
        {
            int ch = (int)(i / s.HW % s.C);
            x[i] = offset[ch] + spread[ch] * x[i];
        }
        return x;
    }

    public static IEnumerable<OpComparison> CheckRelu(OpComparer c, long length)
    {
        var x = c.Uniform(length);
        var y = c.Uniform(length);
        var dy = c.Uniform(length);
        var dx = c.Uniform(length);
        var sum = c.Uniform(length);
        c.Test.ReluForward(x.Test, y.Test);
        c.Reference.ReluForward(x.Ref, y.Ref);
        yield return c.Compare("ReluForward", $"{length}", y, ElementwiseTolerance);
        c.Test.ReluBackward(y.Test, dy.Test, dx.Test);
        c.Reference.ReluBackward(y.Ref, dy.Ref, dx.Ref);
        yield return c.Compare("ReluBackward", $"{length}", dx, ElementwiseTolerance);
        c.Test.Add(x.Test, dy.Test, sum.Test);
        c.Reference.Add(x.Ref, dy.Ref, sum.Ref);
        yield return c.Compare("Add", $"{length}", sum, ElementwiseTolerance);
        // In place, as the model calls them: y = x + y, then relu over it.
        c.Test.Add(x.Test, sum.Test, sum.Test);
        c.Reference.Add(x.Ref, sum.Ref, sum.Ref);
        c.Test.ReluForward(sum.Test, sum.Test);
        c.Reference.ReluForward(sum.Ref, sum.Ref);
        yield return c.Compare("Add+ReluForward in place", $"{length}", sum, ElementwiseTolerance);
    }

    public static IEnumerable<OpComparison> CheckPool(OpComparer c, int n, int channels, int hw)
    {
        string shape = $"({n},{channels},{hw})";
        var x = c.Uniform((long)n * channels * hw);
        var y = c.Uniform((long)n * channels);
        var dx = c.Uniform((long)n * channels * hw);
        c.Test.GlobalAvgPoolForward(n, channels, hw, x.Test, y.Test);
        c.Reference.GlobalAvgPoolForward(n, channels, hw, x.Ref, y.Ref);
        yield return c.Compare("GlobalAvgPoolForward", shape, y, HeadTolerance);
        c.Test.GlobalAvgPoolBackward(n, channels, hw, y.Test, dx.Test);
        c.Reference.GlobalAvgPoolBackward(n, channels, hw, y.Ref, dx.Ref);
        yield return c.Compare("GlobalAvgPoolBackward", shape, dx, HeadTolerance);
    }

    public static IEnumerable<OpComparison> CheckLinear(OpComparer c, LinearShape s)
    {
        string shape = $"N {s.N} {s.In} -> {s.Out}";
        float scale = 1f / MathF.Sqrt(s.In);
        var x = c.Uniform((long)s.N * s.In);
        var w = c.Uniform((long)s.Out * s.In, -scale, scale);
        var b = c.Uniform(s.Out, -scale, scale);
        var y = c.Uniform((long)s.N * s.Out);
        var dy = c.Uniform((long)s.N * s.Out);
        var dx = c.Uniform((long)s.N * s.In);
        var dw = c.Uniform((long)s.Out * s.In);
        var db = c.Uniform(s.Out);
        c.Test.LinearForward(s, x.Test, w.Test, b.Test, y.Test);
        c.Reference.LinearForward(s, x.Ref, w.Ref, b.Ref, y.Ref);
        yield return c.Compare("LinearForward", shape, y, HeadTolerance);
        c.Test.LinearBackward(s, x.Test, w.Test, dy.Test, dx.Test, dw.Test, db.Test);
        c.Reference.LinearBackward(s, x.Ref, w.Ref, dy.Ref, dx.Ref, dw.Ref, db.Ref);
        yield return c.Compare("LinearBackward dx", shape, dx, HeadTolerance);
        yield return c.Compare("LinearBackward dw", shape, dw, ReductionTolerance);
        yield return c.Compare("LinearBackward db", shape, db, ReductionTolerance);
    }

    public static IEnumerable<OpComparison> CheckLoss(OpComparer c, int n, int classes, float scale)
    {
        string shape = $"N {n} classes {classes} scale {scale}";
        var labels = new int[n];
        for (int i = 0; i < n; i++)
            labels[i] = c.Next(classes);
        var l = c.Upload(labels);
        var logits = c.Uniform((long)n * classes, -6f, 6f);
        var loss = c.Uniform(1);
        var dlogits = c.Uniform((long)n * classes);
        c.Test.SoftmaxNllLoss(n, classes, logits.Test, l.Test, scale, loss.Test, dlogits.Test);
        c.Reference.SoftmaxNllLoss(n, classes, logits.Ref, l.Ref, scale, loss.Ref, dlogits.Ref);
        yield return c.Compare("SoftmaxNllLoss loss", shape, loss, HeadTolerance);
        yield return c.Compare("SoftmaxNllLoss dlogits", shape, dlogits, HeadTolerance);
    }

    /// <summary>
    /// The distillation KL of student logits from teacher logits drawn independently in +-6 (so the KL is of order 1, not a
    /// difference of near-equal numbers), with its gradient written, or added to a gradient already there.
    /// </summary>
    public static IEnumerable<OpComparison> CheckKlDivergence(OpComparer c, int n, int classes, float temperature, float scale, bool accumulate)
    {
        string shape = $"N {n} classes {classes} T {temperature} scale {scale}{(accumulate ? " accumulate" : "")}";
        var student = c.Uniform((long)n * classes, -6f, 6f);
        var teacher = c.Uniform((long)n * classes, -6f, 6f);
        var loss = c.Uniform(1);
        var dStudent = c.Uniform((long)n * classes, -0.1f, 0.1f);
        c.Test.KlDivergence(n, classes, student.Test, teacher.Test, temperature, scale, loss.Test, dStudent.Test, accumulate);
        c.Reference.KlDivergence(n, classes, student.Ref, teacher.Ref, temperature, scale, loss.Ref, dStudent.Ref, accumulate);
        yield return c.Compare("KlDivergence loss", shape, loss, HeadTolerance);
        yield return c.Compare("KlDivergence dstudent", shape, dStudent, HeadTolerance);
    }

    /// <summary>g += scale sign(p) over a flat buffer, with some p exactly 0 (sign 0).</summary>
    public static IEnumerable<OpComparison> CheckAddScaledSign(OpComparer c, long length)
    {
        var g = c.Uniform(length, -1e-2f, 1e-2f);
        var values = c.RandomFloats(length);
        for (long i = 0; i < length; i += 7) values[i] = 0f;
        var p = c.Upload(values);
        c.Test.AddScaledSign(g.Test, p.Test, 3e-4f);
        c.Reference.AddScaledSign(g.Ref, p.Ref, 3e-4f);
        yield return c.Compare("AddScaledSign", $"{length}", g, ElementwiseTolerance);
    }

    /// <summary>y = a * b, then the mask in place (g = g * mask with a 0/1 mask), over a flat buffer.</summary>
    public static IEnumerable<OpComparison> CheckMultiply(OpComparer c, long length)
    {
        var g = c.Uniform(length, -1e-2f, 1e-2f);
        var b = c.Uniform(length);
        var y = c.Uniform(length);
        var mask = c.RandomFloats(length);
        for (long i = 0; i < length; i++)
            mask[i] = mask[i] > 0 ? 1f : 0f;
        var m = c.Upload(mask);
        c.Test.Multiply(g.Test, b.Test, y.Test);
        c.Reference.Multiply(g.Ref, b.Ref, y.Ref);
        yield return c.Compare("Multiply", $"{length}", y, ElementwiseTolerance);
        c.Test.Multiply(g.Test, m.Test, g.Test);
        c.Reference.Multiply(g.Ref, m.Ref, g.Ref);
        yield return c.Compare("Multiply in place (mask)", $"{length}", g, ElementwiseTolerance);
    }

    public static IEnumerable<OpComparison> CheckFlat(OpComparer c, long length)
    {
        var gR = c.Uniform(length, -1e-2f, 1e-2f);
        var gF = c.Uniform(length, -1e-2f, 1e-2f);
        var g = c.Uniform(length);
        var sum = c.Uniform(1);
        c.Test.CombineGradients(gR.Test, gF.Test, 0.85f, -0.15f, g.Test);
        c.Reference.CombineGradients(gR.Ref, gF.Ref, 0.85f, -0.15f, g.Ref);
        yield return c.Compare("CombineGradients", $"{length}", g, ElementwiseTolerance);
        c.Test.CombineGradients(gR.Test, gF.Test, 1f, -0.15f, gR.Test);
        c.Reference.CombineGradients(gR.Ref, gF.Ref, 1f, -0.15f, gR.Ref);
        yield return c.Compare("CombineGradients in place", $"{length}", gR, ElementwiseTolerance);
        c.Test.SumOfSquares(g.Test, sum.Test);
        c.Reference.SumOfSquares(g.Ref, sum.Ref);
        yield return c.Compare("SumOfSquares", $"{length}", sum, ReductionTolerance);
        c.Test.Fill(g.Test, 0.25f);
        c.Reference.Fill(g.Ref, 0.25f);
        yield return c.Compare("Fill", $"{length}", g, ElementwiseTolerance);
    }

    /// <summary>Two steps (first, then with momentum) of clip + weight decay + momentum + SGD; <paramref name="masked"/>: with an
    /// update mask of about half zeros (SalUn's hard mask, the MaskedClipAndSgdStep kernel).</summary>
    public static IEnumerable<OpComparison> CheckOptimizer(OpComparer c, long length, float clip, bool nesterov, bool masked = false)
    {
        string shape = $"{length} clip {clip} nesterov {nesterov}{(masked ? " masked" : "")}";
        var p = c.Uniform(length, -0.5f, 0.5f);
        var m = c.Uniform(length);
        var sum = c.Zeros(1);
        OpComparer.Pair<float>? mask = masked ? c.Upload(c.RandomFloats(length, 0f, 1f).Select(v => v < 0.5f ? 0f : 1f).ToArray()) : null;
        for (int step = 0; step < 2; step++)
        {
            var g = c.Uniform(length, -1e-2f, 1e-2f);
            var settings = new SgdUpdate(0.1f, 0.9f, 5e-4f, nesterov, clip);
            c.Test.SumOfSquares(g.Test, sum.Test);
            c.Reference.SumOfSquares(g.Ref, sum.Ref);
            c.Test.ClipAndSgdStep(p.Test, g.Test, m.Test, sum.Test, settings, firstStep: step == 0, mask?.Test);
            c.Reference.ClipAndSgdStep(p.Ref, g.Ref, m.Ref, sum.Ref, settings, firstStep: step == 0, mask?.Ref);
            yield return c.Compare($"ClipAndSgdStep p (step {step + 1})", shape, p, ReductionTolerance);
            yield return c.Compare($"ClipAndSgdStep m (step {step + 1})", shape, m, ReductionTolerance);
        }
    }
}
