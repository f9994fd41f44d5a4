using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// The optimiser over the flat parameter, gradient and momentum buffers. The squared global norm is one
/// reduction (<see cref="ReductionKernels.PartialSums"/> with squares = 1, then <see cref="ReductionKernels.FinalSum"/>)
/// whose result stays on the device and is read here, so a step never waits for the host.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>
    /// One thread per parameter, everything fused:
    /// scale = min(1, clip / (sqrt(sumOfSquares[0]) + 1e-6)) (1 when clip &lt;= 0); g' = scale g;
    /// d = g' + wd p; m = d on the first step, else mu m + d; d = d + mu m (Nesterov) or d = m; p = p - lr d.
    /// The gradient buffer is only read.
    /// </summary>
    public static void ClipAndSgdStep(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m,
        ArrayView<float> sumOfSquares, SgdStep step)
    {
        float scale = 1f;
        if (step.Clip > 0f)
            scale = MathF.Min(1f, step.Clip / (MathF.Sqrt(sumOfSquares[0]) + 1e-6f));

        float param = p[i];
        float d = scale * g[i] + step.WeightDecay * param;
        float momentum = step.FirstStep != 0 ? d : step.Momentum * m[i] + d;
        m[i] = momentum;
        d = step.Nesterov != 0 ? d + step.Momentum * momentum : momentum;
        p[i] = param - step.LearningRate * d;
    }

    /// <summary>
    /// <see cref="ClipAndSgdStep"/> over the elements whose <paramref name="mask"/> is not 0; where it is 0 the parameter keeps its
    /// value bit for bit and the momentum becomes 0 (weight decay and momentum do not move it: SalUn's hard mask,
    /// OPTML-Group/Unlearn-Saliency#33, which restores the masked weights and zeroes their momentum after each step). The same
    /// arithmetic as <see cref="ClipAndSgdStep"/>; the element comes from <see cref="ElementIndex"/> because the kernel branches on it.
    /// </summary>
    public static void MaskedClipAndSgdStep(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m,
        ArrayView<float> sumOfSquares, ArrayView<float> mask, SgdStep step)
    {
        int e = ElementIndex.Of(i);
        float scale = 1f;
        if (step.Clip > 0f)
            scale = MathF.Min(1f, step.Clip / (MathF.Sqrt(sumOfSquares[0]) + 1e-6f));

        float param = p[e];
        float d = scale * g[e] + step.WeightDecay * param;
        float momentum = step.FirstStep != 0 ? d : step.Momentum * m[e] + d;
        d = step.Nesterov != 0 ? d + step.Momentum * momentum : momentum;
        bool frozen = mask[e] == 0f;
        m[e] = frozen ? 0f : momentum;
        p[e] = frozen ? param : param - step.LearningRate * d;
    }
}

/// <summary>The scalar settings of one SGD step as a kernel argument (flags as ints).</summary>
public readonly struct SgdStep
{
    public SgdStep(float clip, float learningRate, float momentum, float weightDecay, bool nesterov, bool firstStep)
    {
        Clip = clip;
        LearningRate = learningRate;
        Momentum = momentum;
        WeightDecay = weightDecay;
        Nesterov = nesterov ? 1 : 0;
        FirstStep = firstStep ? 1 : 0;
    }

    public float Clip { get; }
    public float LearningRate { get; }
    public float Momentum { get; }
    public float WeightDecay { get; }
    public int Nesterov { get; }
    public int FirstStep { get; }
}
