using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// The element of an implicitly grouped kernel's thread, read from the grid: Grid.GlobalIndex.X, the same value as the kernel's
/// Index1D on CUDA (block x threads + thread, the launch ILGPU makes) and on ILGPU's CPU accelerator. A kernel that branches on its
/// element uses this rather than the parameter: ILGPU's uniformity analysis takes the index parameter for a value every thread shares
/// and, at OptimizationLevel.O2, marks such branches <c>bra.uni</c>, a promise to the hardware that would be false
/// (tests/IlgpuUnlearn.Tests/Kernels/PtxUniformBranchTests finds any that come back). O1 would avoid it too but costs the GEMMs
/// 40 to 72 registers per thread.
/// </summary>
public static class ElementIndex
{
    /// <summary>The element index of this thread; <paramref name="index"/> is the kernel's own (the same number).</summary>
    public static int Of(Index1D index) => Grid.GlobalIndex.X;
}
