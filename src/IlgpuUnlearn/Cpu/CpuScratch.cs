namespace IlgpuUnlearn.Cpu;

/// <summary>
/// A grow-only scratch array on the pinned object heap, so that a kernel can keep its address. Reused call after call:
/// the steady state allocates nothing. The array lives only as long as this object: a method that keeps an address from
/// <see cref="Get"/> must keep the object alive until it is done with the address (a field of a live owner, or
/// <see cref="GC.KeepAlive"/> at the end), since optimised code may drop the last reference to it mid-call.
/// </summary>
internal sealed unsafe class CpuScratch
{
    private float[] _data = [];

    /// <summary>The address of at least <paramref name="length"/> floats (contents undefined).</summary>
    public float* Get(long length)
    {
        if (_data.Length < length)
            _data = GC.AllocateUninitializedArray<float>(checked((int)Math.Max(length, _data.Length * 5L / 4)), pinned: true);
        fixed (float* p = _data) return p; // pinned object heap: the address stays valid
    }

    public long Length => _data.Length;

    /// <summary>Per-thread scratch for the packed B panel of the GEMM, the column buffers of the convolutions, and the phases a
    /// stride-2 weight gradient splits while it builds its column buffer.</summary>
    [ThreadStatic] private static CpuScratch? t_panel, t_columns, t_phases;

    public static CpuScratch ThreadPanel => t_panel ??= new CpuScratch();
    public static CpuScratch ThreadColumns => t_columns ??= new CpuScratch();
    public static CpuScratch ThreadPhases => t_phases ??= new CpuScratch();
}
