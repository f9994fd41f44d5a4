using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>Reductions of a whole flat buffer to one number, in two launches and no host round trip.</summary>
public static class ReductionKernels
{
    /// <summary>
    /// First pass of sum(values^2) (squares = 1) or sum(values) (squares = 0): each group walks the buffer with a
    /// grid stride, reduces its threads' sums, and writes partials[group]. Launch with any number of groups.
    /// </summary>
    public static void PartialSums(ArrayView<float> values, int length, int squares, ArrayView<float> partials)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        float sum = 0f;
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < length; i += stride)
        {
            float v = values[i];
            sum += squares != 0 ? v * v : v;
        }
        sum = GroupReduce.Sum(sum, scratch);
        if (Group.IdxX == 0)
            partials[Grid.IdxX] = sum;
    }

    /// <summary>Second pass: result[0] = scale * sum of partials[0 .. count); launch with ONE group.</summary>
    public static void FinalSum(ArrayView<float> partials, int count, float scale, ArrayView<float> result)
    {
        var scratch = SharedMemory.Allocate<float>(GroupReduce.MaxWarps);
        float sum = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX)
            sum += partials[i];
        sum = GroupReduce.Sum(sum, scratch);
        if (Group.IdxX == 0)
            result[0] = scale * sum;
    }
}
