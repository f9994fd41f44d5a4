using IlgpuUnlearn.Cpu;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>
/// Linear CKA between two models' stage outputs as pytorch-cka 1.0.1 (ryusudol/Centered-Kernel-Alignment, cka/hsic.py and
/// cka/cka.py) computes it for the Unlearning Comparator: the minibatch estimator of Nguyen, Raghu and Kornblith (ICLR 2021).
/// Per minibatch of n &gt; 3 images, the linear Gram matrices K = X X^T and L = Y Y^T (X: (n, p) one stage's outputs
/// flattened per image) give the unbiased HSIC of Song et al. (JMLR 2012),
/// HSIC_1(K, L) = [tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n(n-3)), K~ and L~ with zeroed diagonals;
/// HSIC_1(K, L), HSIC_1(K, K) and HSIC_1(L, L) are summed over the minibatches and
/// CKA = sum HSIC(K, L) / sqrt(sum HSIC(K, K) sum HSIC(L, L)), a zero denominator replaced by 1e-6, clamped to [0, 1]
/// (the unbiased estimate can be slightly negative for unrelated features; pytorch-cka reports 0 then).
///
/// HSIC_1 is unchanged when the features are centred (a constant added to every row of X changes K by terms that its
/// U-statistic cancels exactly), so <see cref="CentredGram"/> centres each minibatch's features before forming K: the same
/// value with far less cancellation in float32 (post-ReLU activations have large means). Memory: a Gram matrix is n x n
/// doubles (8 MB at the Comparator's n = 1,000); forming it needs n x <see cref="GramChunk"/> floats (16 MB) and one n x n float
/// product; the n x p features themselves are the caller's (see <see cref="ModelFeatures.Stages"/>).
/// Cost: about n^2 p / 2 multiply-adds per Gram (its upper triangle on the CPU GEMM, float, 4,096 features at a time summed
/// in double).
/// </summary>
public sealed class MinibatchCka
{
    /// <summary>Features per GEMM pass when forming a Gram matrix (then summed in double).</summary>
    public const int GramChunk = 4096;
    /// <summary>Rows of the Gram matrix per GEMM call (a multiple of the micro-kernel's 8 rows).</summary>
    const int RowBlock = 96;

    readonly double[] _xy, _xx, _yy;
    readonly int[] _batches;

    /// <param name="stages">How many stages (layers) are compared side by side.</param>
    public MinibatchCka(int stages)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stages);
        (_xy, _xx, _yy, _batches) = (new double[stages], new double[stages], new double[stages], new int[stages]);
    }

    /// <summary>Adds one minibatch of stage <paramref name="stage"/>: the two models' Gram matrices (n, n) row-major.</summary>
    /// <exception cref="ArgumentException">n of 3 or fewer (the estimator divides by n - 3), or Gram matrices of other sizes.</exception>
    public void Add(int stage, ReadOnlySpan<double> gramX, ReadOnlySpan<double> gramY, int n)
    {
        _xy[stage] += UnbiasedHsic(gramX, gramY, n);
        _xx[stage] += UnbiasedHsic(gramX, gramX, n);
        _yy[stage] += UnbiasedHsic(gramY, gramY, n);
        _batches[stage]++;
    }

    /// <summary>CKA of each stage over the minibatches added so far; NaN for a stage no minibatch was added to.</summary>
    public double[] Values()
    {
        var values = new double[_xy.Length];
        for (int s = 0; s < values.Length; s++)
        {
            if (_batches[s] == 0) { values[s] = double.NaN; continue; }
            double denominator = Math.Sqrt(Math.Max(_xx[s] * _yy[s], 0));
            if (denominator == 0) denominator = 1e-6;
            values[s] = Math.Clamp(_xy[s] / denominator, 0, 1);
        }
        return values;
    }

    /// <summary>Song et al.'s unbiased HSIC_1 of two (n, n) Gram matrices, as pytorch-cka's hsic() computes it (in double here).</summary>
    public static double UnbiasedHsic(ReadOnlySpan<double> k, ReadOnlySpan<double> l, int n)
    {
        if (n <= 3) throw new ArgumentException($"the unbiased HSIC needs more than 3 samples, not {n}");
        if (k.Length != (long)n * n || l.Length != (long)n * n) throw new ArgumentException($"Gram matrices of {k.Length} and {l.Length} values for {n} samples");
        double trace = 0, sumK = 0, sumL = 0, columns = 0;
        var columnK = new double[n];
        var columnL = new double[n];
        for (int i = 0; i < n; i++)
        {
            var ki = k.Slice(i * n, n);
            var li = l.Slice(i * n, n);
            for (int j = 0; j < n; j++)
            {
                if (i == j) continue;
                trace += ki[j] * li[j];
                columnK[j] += ki[j];
                columnL[j] += li[j];
            }
        }
        for (int j = 0; j < n; j++)
        {
            sumK += columnK[j];
            sumL += columnL[j];
            columns += columnK[j] * columnL[j];
        }
        double main = trace + sumK * sumL / ((double)(n - 1) * (n - 2)) - 2.0 / (n - 2) * columns;
        return main / ((double)n * (n - 3));
    }

    /// <summary>
    /// K = X_c X_c^T (n, n) row-major in double, X_c = <paramref name="features"/> (n, p) row-major with each column's mean over
    /// the n rows subtracted (in double, then rounded to float); products in float32 on the CPU GEMM, <see cref="GramChunk"/>
    /// columns at a time, chunks summed in double. <paramref name="features"/> is not changed.
    /// </summary>
    public static unsafe double[] CentredGram(ReadOnlySpan<float> features, int n, int p)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(p);
        if (features.Length != (long)n * p) throw new ArgumentException($"{features.Length} values are not {n} rows of {p}");
        var gram = new double[(long)n * n];
        int width = Math.Min(p, GramChunk);
        var chunk = GC.AllocateUninitializedArray<float>(n * width, pinned: true);
        var product = GC.AllocateUninitializedArray<float>(n * n, pinned: true);
        var packedScratch = new CpuScratch();
        var mean = new double[width];
        for (int c0 = 0; c0 < p; c0 += width)
        {
            int pc = Math.Min(width, p - c0);
            Array.Clear(mean);
            for (int i = 0; i < n; i++)
            {
                var row = features.Slice(i * p + c0, pc);
                for (int j = 0; j < pc; j++) mean[j] += row[j];
            }
            for (int j = 0; j < pc; j++) mean[j] /= n;
            for (int i = 0; i < n; i++)
            {
                var row = features.Slice(i * p + c0, pc);
                var dst = chunk.AsSpan(i * pc, pc);
                for (int j = 0; j < pc; j++) dst[j] = (float)(row[j] - mean[j]);
            }
            // K is symmetric: each block of rows [i0, i0 + mb) is multiplied with the columns from i0 on only (about half
            // the products), and the lower triangle is mirrored at the end.
            fixed (float* a = chunk)
            fixed (float* c = product)
            {
                for (int i0 = 0; i0 < n; i0 += RowBlock)
                {
                    int mb = Math.Min(RowBlock, n - i0);
                    float* packed = packedScratch.Get((long)CpuGemm.PaddedRows(mb) * pc);
                    CpuGemm.PackA(a + (long)i0 * pc, pc, 1, mb, pc, packed);
                    CpuGemm.Multiply(mb, n - i0, pc, packed, new TransposedRows(a + (long)i0 * pc, pc), GemmOutput.RowMajor(c + (long)i0 * n + i0, n));
                }
            }
            for (int i = 0; i < n; i++)
                for (int j = i; j < n; j++) gram[(long)i * n + j] += product[(long)i * n + j];
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) gram[(long)i * n + j] = gram[(long)j * n + i];
        return gram;
    }

    /// <summary>B = A^T as the GEMM's B operand, A (n, pc) row-major: B[k, j] = A[j, k].</summary>
    readonly unsafe struct TransposedRows(float* a, int rowLength) : IGemmPanelSource
    {
        public void Pack(long j0, int cols, int k0, int kc, float* dst)
        {
            for (int jj = 0; jj < cols; jj++)
            {
                float* src = a + (j0 + jj) * rowLength + k0;
                for (int kk = 0; kk < kc; kk++) dst[kk * CpuGemm.NR + jj] = src[kk];
            }
            for (int kk = 0; kk < kc; kk++)
                for (int jj = cols; jj < CpuGemm.NR; jj++) dst[kk * CpuGemm.NR + jj] = 0f;
        }
    }
}
