using ILGPU.Runtime;

namespace IlgpuUnlearn.Ilgpu;

/// <summary>A grid or group size in up to three dimensions.</summary>
public readonly record struct LaunchSize(int X, int Y = 1, int Z = 1)
{
    public long Count => (long)X * Y * Z;

    public override string ToString() => Y == 1 && Z == 1 ? $"{X}" : $"({X}, {Y}, {Z})";
}

/// <summary>
/// One kernel launch of a <see cref="OpPlan"/>. Explicitly grouped: <see cref="Grid"/> groups of <see cref="Group"/> threads.
/// Implicitly grouped (<see cref="Group"/> null): one thread per element of an extent of <c>Grid.X</c>, the group size chosen by
/// ILGPU from the kernel's occupancy (on CUDA, the driver's occupancy calculator).
/// <see cref="Argument"/> is the launch's one size argument where it has one: the K range per split of a GEMM
/// (<c>kPerSplit</c>), the values per chunk of a chunked batch-norm reduction (<c>chunkLength</c>); else 0. <see cref="Phase"/> is
/// the stride phase qh S + qw of an input-gradient GEMM by phase; else 0.
/// <see cref="Kernel"/> names the kernel as <c>Class.Method</c> or <c>Class.Method&lt;Operands&gt;</c>.
/// </summary>
public sealed record KernelLaunch(string Kernel, LaunchSize Grid, LaunchSize? Group, int Argument = 0, int Phase = 0)
{
    public bool ImplicitlyGrouped => Group is null;

    /// <summary>Threads per group: the explicit group size, or null where ILGPU chooses it.</summary>
    public int? ThreadsPerGroup => Group is { } g ? (int)g.Count : null;

    public override string ToString() => Group is { } g
        ? $"{Kernel} grid {Grid} x group {g}{(Argument != 0 ? $", argument {Argument}" : "")}"
        : $"{Kernel} over {Grid.X} elements";
}

/// <summary>
/// What one op launches for given shapes, computed before anything runs: the kernels in order, their grids and group sizes and
/// size arguments, and the device scratch the op needs (floats). <see cref="IlgpuOps"/> launches exactly these;
/// <see cref="PlanningOps"/> records them without a device, so that every host-side decision can be checked at any size.
/// </summary>
public sealed record OpPlan(string Op, string Shape, IReadOnlyList<KernelLaunch> Launches, long ScratchFloats = 0)
{
    public static OpPlan Empty(string op, string shape) => new(op, shape, []);

    public override string ToString()
        => $"{Op} {Shape}: {(Launches.Count == 0 ? "nothing to launch" : string.Join("; ", Launches))}" +
           (ScratchFloats > 0 ? $"; scratch {ScratchFloats} floats" : "");
}

/// <summary>
/// The figures of a device that a launch plan depends on, and CUDA's launch limits that every plan is checked against.
/// Limits: CUDA C++ Programming Guide, "Features and Technical Specifications" (compute capability 8.0 to 9.0): grid x up to
/// 2^31 - 1, grid y and z up to 65,535, at most 1,024 threads per group, 48 KB of static shared memory per group, 65,536
/// 32-bit registers per group (and per multiprocessor).
/// </summary>
public sealed record DeviceLimits(bool Cuda, int Multiprocessors, int MaxThreadsPerMultiprocessor, int MaxThreadsPerGroup, int WarpSize)
{
    public const int MaxGridX = int.MaxValue;
    public const int MaxGridYZ = 65_535;
    public const int MaxThreadsPerGroupCuda = 1_024;
    public const int MaxStaticSharedBytes = 48 * 1024;
    public const int RegistersPerGroup = 65_536;

    /// <summary>The figures of an accelerator.</summary>
    public static DeviceLimits Of(Accelerator accelerator) => new(
        accelerator.AcceleratorType == AcceleratorType.Cuda, accelerator.NumMultiprocessors,
        accelerator.MaxNumThreadsPerMultiprocessor, accelerator.MaxNumThreadsPerGroup, accelerator.WarpSize);

    /// <summary>An NVIDIA H100/H200 (sm_90: 132 multiprocessors of 2,048 threads), the largest device the plans are made for.</summary>
    public static DeviceLimits Sm90 { get; } = new(true, 132, 2048, 1024, 32);

    /// <summary>An NVIDIA A100 (sm_80: 108 multiprocessors of 2,048 threads).</summary>
    public static DeviceLimits Sm80 { get; } = new(true, 108, 2048, 1024, 32);

    /// <summary>An NVIDIA RTX 3090-class GPU (sm_86: 82 multiprocessors of 1,536 threads).</summary>
    public static DeviceLimits Sm86 { get; } = new(true, 82, 1536, 1024, 32);
}
