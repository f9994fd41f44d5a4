namespace IlgpuUnlearn.Cpu;

/// <summary>How the CPU ops spread work over the cores.</summary>
internal static class CpuParallel
{
    /// <summary>The number of workers the ops split their work into.</summary>
    public static int Workers { get; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Runs body(i) for i in [0, count), on all cores when there is more than one item.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || Workers == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, body);
    }

    /// <summary>
    /// Cuts [0, length) into about one contiguous range per worker (none shorter than <paramref name="minChunk"/>,
    /// multiples of 64 elements so that vector loops stay aligned to each other) and runs body(start, count) on each.
    /// </summary>
    public static void ForRanges(long length, long minChunk, Action<long, long> body)
    {
        if (length <= 0) return;
        int chunks = (int)Math.Clamp(length / Math.Max(1, minChunk), 1, Workers);
        if (chunks == 1)
        {
            body(0, length);
            return;
        }
        long step = (length + chunks - 1) / chunks;
        step = (step + 63) / 64 * 64;
        Parallel.For(0, chunks, i =>
        {
            long start = i * step;
            long count = Math.Min(step, length - start);
            if (count > 0) body(start, count);
        });
    }
}
