using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>
/// Sums one value per thread over a whole group: a shuffle-down tree inside each warp, the warp
/// totals through shared memory, then the same shuffle tree over those. Requires a group size that
/// is a multiple of the warp size and at most 32 warps (1024 threads on CUDA).
/// </summary>
public static class GroupReduce
{
    /// <summary>The most warps a group may hold: the size of the scratch a caller allocates.</summary>
    public const int MaxWarps = 32;

    /// <summary>Sum over the warp; every lane takes part, lane 0 holds the total.</summary>
    public static float WarpSum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
            value += Warp.ShuffleDown(value, offset);
        return value;
    }

    /// <summary>
    /// Sum over the group; thread 0 holds the total. <paramref name="scratch"/> is shared memory of
    /// <see cref="MaxWarps"/> floats; it may be reused by the next call (the call ends with a barrier).
    /// Every thread of the group must call it (it contains barriers).
    /// </summary>
    public static float Sum(float value, ArrayView<float> scratch)
    {
        value = WarpSum(value);
        int warp = Group.IdxX / Warp.WarpSize;
        if (Warp.LaneIdx == 0)
            scratch[warp] = value;
        Group.Barrier();

        // Every warp runs the second stage (no divergent shuffles); only warp 0's result is used.
        int warps = Group.DimX / Warp.WarpSize;
        value = Warp.LaneIdx < warps ? scratch[Warp.LaneIdx] : 0f;
        value = WarpSum(value);
        Group.Barrier();
        return value;
    }
}
