namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Registers per thread and static shared memory (bytes) of every kernel, as NVIDIA's ptxas 12.4 reports them for the PTX ILGPU
/// writes for a CUDA 13.0 driver (ISA 8.8, lowered to 8.4; <c>ptxas -v</c>; the largest register count of sm_80, sm_86 and sm_90). <see cref="LaunchPlanTests"/> checks every planned
/// launch against these figures; <see cref="PtxasTests"/> assembles every kernel and fails when a kernel needs more than its
/// figure here, so the figures cannot silently fall behind the kernels (update the line it prints when a kernel changes).
/// </summary>
internal static class PtxasFigures
{
    public static IReadOnlyDictionary<string, (int Registers, int SharedBytes)> Kernels { get; } = new Dictionary<string, (int, int)>
    {
        ["BatchNormKernels.BackwardInput"] = (22, 0),
        ["BatchNormKernels.BackwardReduce"] = (28, 128),
        ["BatchNormKernels.ChunkBackwardReduce"] = (28, 128),
        ["BatchNormKernels.ChunkStatistics"] = (26, 132),
        ["BatchNormKernels.EvalBackwardInput"] = (14, 0),
        ["BatchNormKernels.EvalForward"] = (20, 0),
        ["BatchNormKernels.EvalStatistics"] = (18, 0),
        ["BatchNormKernels.MergeBackwardReduce"] = (20, 0),
        ["BatchNormKernels.MergeStatistics"] = (28, 0),
        ["BatchNormKernels.TrainNormalize"] = (18, 0),
        ["BatchNormKernels.TrainStatistics"] = (26, 132),
        ["Conv2dKernels.BackwardInputNaive"] = (29, 0),
        ["Conv2dKernels.BackwardWeightNaive"] = (28, 0),
        ["Conv2dKernels.ForwardNaive"] = (27, 0),
        ["Conv2dKernels.SumSplits"] = (14, 0),
        ["ElementwiseKernels.Add"] = (12, 0),
        ["ElementwiseKernels.AddScaledSign"] = (10, 0),
        ["ElementwiseKernels.CombineGradients"] = (14, 0),
        ["ElementwiseKernels.Fill"] = (10, 0),
        ["ElementwiseKernels.Multiply"] = (12, 0),
        ["ImplicitGemm.Tiled<BackwardInputGemm>"] = (46, 8320),
        ["ImplicitGemm.Tiled<BackwardInputPhaseGemm>"] = (47, 8320),
        ["ImplicitGemm.Tiled<BackwardWeightGemm>"] = (44, 8320),
        ["ImplicitGemm.Tiled<ForwardGemm>"] = (46, 8320),
        ["ImplicitGemmTensorCore.Tf32<BackwardInputGemm>"] = (48, 9216),
        ["ImplicitGemmTensorCore.Tf32<BackwardInputPhaseGemm>"] = (54, 9216),
        ["ImplicitGemmTensorCore.Tf32<BackwardWeightGemm>"] = (48, 9216),
        ["ImplicitGemmTensorCore.Tf32<ForwardGemm>"] = (47, 9216),
        ["ImplicitGemmTensorCore.Tf32Emulated<BackwardInputGemm>"] = (55, 15360),
        ["ImplicitGemmTensorCore.Tf32Emulated<BackwardInputPhaseGemm>"] = (55, 15360),
        ["ImplicitGemmTensorCore.Tf32Emulated<BackwardWeightGemm>"] = (59, 15360),
        ["ImplicitGemmTensorCore.Tf32Emulated<ForwardGemm>"] = (55, 15360),
        ["ImplicitGemmWide.Tiled128<BackwardInputGemm>"] = (122, 16896),
        ["ImplicitGemmWide.Tiled128<BackwardInputPhaseGemm>"] = (120, 16896),
        ["ImplicitGemmWide.Tiled128<BackwardWeightGemm>"] = (122, 16896),
        ["ImplicitGemmWide.Tiled128<ForwardGemm>"] = (122, 16896),
        ["InputKernels.LoadImages"] = (20, 0),
        ["LinearKernels.BackwardBias"] = (14, 0),
        ["LinearKernels.BackwardInput"] = (22, 0),
        ["LinearKernels.BackwardWeight"] = (22, 0),
        ["LinearKernels.Forward"] = (16, 0),
        ["LossKernels.KlDivergencePerSample"] = (29, 0),
        ["LossKernels.SoftmaxNllPerSample"] = (18, 0),
        ["OptimizerKernels.ClipAndSgdStep"] = (16, 0),
        ["OptimizerKernels.MaskedClipAndSgdStep"] = (16, 0),
        ["PoolKernels.GlobalAvgBackward"] = (18, 0),
        ["PoolKernels.GlobalAvgForward"] = (16, 0),
        ["ReductionKernels.FinalSum"] = (13, 128),
        ["ReductionKernels.PartialSums"] = (14, 128),
        ["ReluKernels.Backward"] = (12, 0),
        ["ReluKernels.Forward"] = (10, 0),
    };
}
