namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Registers per thread and static shared memory (bytes) of every kernel, as NVIDIA's ptxas 11.8 reports them
/// (<c>ptxas -v</c>; the largest register count of sm_80, sm_86 and sm_90). <see cref="LaunchPlanTests"/> checks every planned
/// launch against these figures; <see cref="PtxasTests"/> assembles every kernel and fails when a kernel needs more than its
/// figure here, so the figures cannot silently fall behind the kernels (update the line it prints when a kernel changes).
/// </summary>
internal static class PtxasFigures
{
    public static IReadOnlyDictionary<string, (int Registers, int SharedBytes)> Kernels { get; } = new Dictionary<string, (int, int)>
    {
        ["BatchNormKernels.BackwardInput"] = (22, 0),
        ["BatchNormKernels.BackwardReduce"] = (22, 128),
        ["BatchNormKernels.ChunkBackwardReduce"] = (26, 128),
        ["BatchNormKernels.ChunkStatistics"] = (23, 132),
        ["BatchNormKernels.EvalForward"] = (20, 0),
        ["BatchNormKernels.MergeBackwardReduce"] = (20, 0),
        ["BatchNormKernels.MergeStatistics"] = (24, 0),
        ["BatchNormKernels.TrainNormalize"] = (18, 0),
        ["BatchNormKernels.TrainStatistics"] = (23, 132),
        ["Conv2dKernels.BackwardInputNaive"] = (26, 0),
        ["Conv2dKernels.BackwardWeightNaive"] = (22, 0),
        ["Conv2dKernels.ForwardNaive"] = (21, 0),
        ["Conv2dKernels.SumSplits"] = (14, 0),
        ["ElementwiseKernels.Add"] = (12, 0),
        ["ElementwiseKernels.AddScaledSign"] = (10, 0),
        ["ElementwiseKernels.CombineGradients"] = (14, 0),
        ["ElementwiseKernels.Fill"] = (10, 0),
        ["ElementwiseKernels.Multiply"] = (12, 0),
        ["ImplicitGemm.Tiled<BackwardInputGemm>"] = (40, 8320),
        ["ImplicitGemm.Tiled<BackwardInputPhaseGemm>"] = (40, 8320),
        ["ImplicitGemm.Tiled<BackwardWeightGemm>"] = (40, 8320),
        ["ImplicitGemm.Tiled<ForwardGemm>"] = (40, 8320),
        ["ImplicitGemmTensorCore.Tf32<BackwardInputGemm>"] = (44, 9216),
        ["ImplicitGemmTensorCore.Tf32<BackwardInputPhaseGemm>"] = (46, 9216),
        ["ImplicitGemmTensorCore.Tf32<BackwardWeightGemm>"] = (48, 9216),
        ["ImplicitGemmTensorCore.Tf32<ForwardGemm>"] = (40, 9216),
        ["ImplicitGemmTensorCore.Tf32Emulated<BackwardInputGemm>"] = (56, 15360),
        ["ImplicitGemmTensorCore.Tf32Emulated<BackwardInputPhaseGemm>"] = (56, 15360),
        ["ImplicitGemmTensorCore.Tf32Emulated<BackwardWeightGemm>"] = (56, 15360),
        ["ImplicitGemmTensorCore.Tf32Emulated<ForwardGemm>"] = (56, 15360),
        ["ImplicitGemmWide.Tiled128<BackwardInputGemm>"] = (120, 16896),
        ["ImplicitGemmWide.Tiled128<BackwardInputPhaseGemm>"] = (120, 16896),
        ["ImplicitGemmWide.Tiled128<BackwardWeightGemm>"] = (122, 16896),
        ["ImplicitGemmWide.Tiled128<ForwardGemm>"] = (120, 16896),
        ["InputKernels.LoadImages"] = (20, 0),
        ["LinearKernels.BackwardBias"] = (14, 0),
        ["LinearKernels.BackwardInput"] = (20, 0),
        ["LinearKernels.BackwardWeight"] = (20, 0),
        ["LinearKernels.Forward"] = (14, 0),
        ["LossKernels.KlDivergencePerSample"] = (27, 0),
        ["LossKernels.SoftmaxNllPerSample"] = (18, 0),
        ["OptimizerKernels.ClipAndSgdStep"] = (18, 0),
        ["PoolKernels.GlobalAvgBackward"] = (18, 0),
        ["PoolKernels.GlobalAvgForward"] = (16, 0),
        ["ReductionKernels.FinalSum"] = (13, 128),
        ["ReductionKernels.PartialSums"] = (14, 128),
        ["ReluKernels.Backward"] = (12, 0),
        ["ReluKernels.Forward"] = (10, 0),
    };
}
