using System.Runtime.InteropServices;

namespace IlgpuUnlearn.Cpu;

/// <summary>
/// A grow-only scratch block of native memory (64-byte aligned), so that a kernel can keep its address. Reused call after
/// call: the steady state allocates nothing. When it grows, the old block is freed at once (its contents are not kept):
/// as pinned managed arrays, the outgrown blocks of the first step stayed resident as garbage until a full collection that
/// a training run never triggers (26 MB at batch 64, where the live blocks are 60 MB: the Winograd packed U grows
/// 1 -> 4 -> 16 MiB through the stages, each thread's column block 0.9 -> 4 MiB). The block lives only as long as this
/// object (its finalizer frees it): a method that keeps an address from <see cref="Get"/> must keep the object alive until
/// it is done with the address (a field of a live owner, or <see cref="GC.KeepAlive"/> at the end), since optimised code
/// may drop the last reference to it mid-call.
/// </summary>
internal sealed unsafe class CpuScratch : IDisposable
{
    private float* _data;
    private long _length;

    /// <summary>The address of at least <paramref name="length"/> floats (contents undefined, also after a call that grew it).</summary>
    public float* Get(long length)
    {
        if (_length < length)
        {
            long grown = Math.Max(length, _length * 5 / 4);
            Release();
            _data = (float*)NativeMemory.AlignedAlloc(checked((nuint)(grown * sizeof(float))), 64);
            _length = grown;
            GC.AddMemoryPressure(grown * sizeof(float));
        }
        return _data;
    }

    /// <summary>Floats in the block.</summary>
    public long Length => _length;

    private void Release()
    {
        if (_data is null) return;
        NativeMemory.AlignedFree(_data);
        GC.RemoveMemoryPressure(_length * sizeof(float));
        _data = null;
        _length = 0;
    }

    /// <summary>Frees the block now (a later <see cref="Get"/> allocates again); the finalizer frees what is left otherwise.</summary>
    public void Dispose() => Release();

    ~CpuScratch() => Release();

    /// <summary>Per-thread scratch for the packed B panel of the GEMM, the column buffers of the convolutions, and the phases a
    /// stride-2 weight gradient splits while it builds its column buffer.</summary>
    [ThreadStatic] private static CpuScratch? t_panel, t_columns, t_phases;

    public static CpuScratch ThreadPanel => t_panel ??= new CpuScratch();
    public static CpuScratch ThreadColumns => t_columns ??= new CpuScratch();
    public static CpuScratch ThreadPhases => t_phases ??= new CpuScratch();
}
