using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cpu;

/// <summary>The optimiser's passes over the flat gradient, parameter and momentum buffers (11M floats for ResNet18).</summary>
internal static unsafe class CpuOptimizer
{
    private const long MinChunk = 1 << 16;

    /// <summary>g = retainScale gRetain + forgetScale gForget; g may alias either input.</summary>
    public static void CombineGradients(float* gRetain, float* gForget, float retainScale, float forgetScale, float* g, long length)
    {
        CpuParallel.ForRanges(length, MinChunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, count) =>
        {
            var r = Vector512.Create(retainScale);
            var f = Vector512.Create(forgetScale);
            long i = 0;
            for (; i + 16 <= count; i += 16)
            {
                long k = start + i;
                Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(gForget + k), f, Vector512.Load(gRetain + k) * r), g + k);
            }
            for (; i < count; i++)
            {
                long k = start + i;
                g[k] = MathF.FusedMultiplyAdd(gForget[k], forgetScale, gRetain[k] * retainScale);
            }
        });
    }

    /// <summary>sum of g^2: fp32 vector sums over blocks of 4096, added up in fp64.</summary>
    public static float SumOfSquares(float* g, long length)
    {
        const int block = 4096;
        long blocks = (length + block - 1) / block;
        var partial = new double[CpuParallel.Workers];
        int workers = (int)Math.Clamp(length / MinChunk, 1, CpuParallel.Workers);
        long perWorker = (blocks + workers - 1) / workers;
        CpuParallel.For(workers, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (worker) =>
        {
            double sum = 0;
            long end = Math.Min(blocks, (worker + 1) * perWorker);
            for (long b = worker * perWorker; b < end; b++)
            {
                long start = b * block;
                int count = (int)Math.Min(block, length - start);
                sum += TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(g + start, count));
            }
            partial[worker] = sum;
        });
        double total = 0;
        foreach (double p in partial) total += p;
        return (float)total;
    }

    /// <summary>
    /// g' = g min(1, clip / (sqrt(sumOfSquares) + 1e-6)) (no clipping when clip &lt;= 0); d = g' + wd p;
    /// m = d on the first step, else mu m + d; d = d + mu m (Nesterov) or d = m; p = p - lr d. Where <paramref name="mask"/> (null:
    /// none) is 0, p keeps its value bit for bit and m becomes 0 (SalUn's hard mask, <see cref="IOps.ClipAndSgdStep"/>).
    /// </summary>
    public static void ClipAndSgdStep(float* p, float* g, float* m, float* mask, long length, float sumOfSquares, SgdUpdate s, bool firstStep)
    {
        float clipScale = s.Clip > 0 ? MathF.Min(1f, s.Clip / (MathF.Sqrt(sumOfSquares) + 1e-6f)) : 1f;
        CpuParallel.ForRanges(length, MinChunk, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, count) =>
        {
            var clipV = Vector512.Create(clipScale);
            var wdV = Vector512.Create(s.WeightDecay);
            var muV = Vector512.Create(s.Momentum);
            var lrV = Vector512.Create(s.LearningRate);
            long i = 0;
            for (; i + 16 <= count; i += 16)
            {
                long k = start + i;
                var pv = Vector512.Load(p + k);
                var d = Vector512.FusedMultiplyAdd(wdV, pv, Vector512.Load(g + k) * clipV);
                var mv = firstStep ? d : Vector512.FusedMultiplyAdd(muV, Vector512.Load(m + k), d);
                d = s.Nesterov ? Vector512.FusedMultiplyAdd(muV, mv, d) : mv;
                var next = pv - lrV * d;
                if (mask != null)
                {
                    var frozen = Vector512.Equals(Vector512.Load(mask + k), Vector512<float>.Zero);
                    mv = Vector512.ConditionalSelect(frozen, Vector512<float>.Zero, mv);
                    next = Vector512.ConditionalSelect(frozen, pv, next);
                }
                Vector512.Store(mv, m + k);
                Vector512.Store(next, p + k);
            }
            for (; i < count; i++)
            {
                long k = start + i;
                if (mask != null && mask[k] == 0f)
                {
                    m[k] = 0f;
                    continue;
                }
                float d = MathF.FusedMultiplyAdd(s.WeightDecay, p[k], g[k] * clipScale);
                float mv = firstStep ? d : MathF.FusedMultiplyAdd(s.Momentum, m[k], d);
                m[k] = mv;
                d = s.Nesterov ? MathF.FusedMultiplyAdd(s.Momentum, mv, d) : mv;
                p[k] -= s.LearningRate * d;
            }
        });
    }
}
