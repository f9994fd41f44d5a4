using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU.Runtime.Cuda;
using IlgpuUnlearn.Ilgpu;
using IlgpuUnlearn.Kernels;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Every kernel's PTX through NVIDIA's PTX assembler for sm_80, sm_86 and sm_90, with no GPU: what the driver's JIT would do first
/// on a real device. Fails on an assembler error, any register spill or local memory (stack frame, lmem), a kernel whose registers
/// x threads per group exceed 65,536, or registers above the kernel's figure in <see cref="PtxasFigures"/>; prints registers,
/// shared memory and theoretical occupancy per kernel and architecture.
/// The PTX is what ILGPU 1.5.3 writes for a CUDA 12.9-13.x driver (the lent GPUs run 13.0): <c>.version 8.8</c>. ptxas comes from
/// Debian trixie's nvidia-cuda-toolkit 12.4 (scripts/fetch-ptxas.sh puts it in .ptxas/bin; ILGPU_UNLEARN_PTXAS names another) and
/// reads PTX ISA up to 8.4, so only the <c>.version 8.8</c> line is lowered to 8.4 for it; an instruction 8.4 lacks would still
/// fail the test. The TF32 tensor-core kernel, whose inline PTX (mma.sync) ILGPU passes through untouched, is also assembled
/// exactly as ILGPU writes it at ISA 8.4, for sm_80 and sm_90, and its machine code must hold the tensor-core instruction.
/// Without ptxas (12.4 or newer) the tests fail (CI runs the script first); a developer without it runs scripts/fetch-ptxas.sh once.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed partial class PtxasTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    /// <summary>Per-multiprocessor limits for the occupancy (CUDA C++ Programming Guide, "Compute Capabilities", table 21):
    /// registers, threads, resident groups, shared memory (the largest carve-out; 1 KB of it reserved per group).</summary>
    private static readonly (string Name, CudaArchitecture Architecture, int Registers, int Threads, int Groups, int SharedBytes)[] Architectures =
    [
        ("sm_80", CudaArchitecture.SM_80, 65_536, 2_048, 32, 164 * 1024),
        ("sm_86", CudaArchitecture.SM_86, 65_536, 1_536, 16, 100 * 1024),
        ("sm_90", CudaArchitecture.SM_90, 65_536, 2_048, 32, 228 * 1024),
    ];

    [GeneratedRegex(@"Used (\d+) registers")]
    private static partial Regex RegistersUsed();

    [GeneratedRegex(@"(\d+) bytes smem")]
    private static partial Regex SharedMemory();

    [GeneratedRegex(@"(\d+) bytes (stack frame|spill stores|spill loads|lmem)")]
    private static partial Regex LocalMemory();

    /// <summary>What ILGPU 1.5.3 emits under a CUDA 12.9 to 13.x driver (its newest PTX ISA; CudaVersions.xml: 8.8 needs 12.9).</summary>
    private static readonly CudaInstructionSet DriverIsa = CudaInstructionSet.ISA_88;

    /// <summary>
    /// The newest PTX ISA a ptxas reads, by its CUDA release (PTX ISA reference, "Release notes": ISA 8.4 came with CUDA 12.4,
    /// 8.5 with 12.5 and 12.6, 8.6 with 12.7, 8.7 with 12.8, 8.8 with 12.9, 9.0 with 13.0); null for releases before 12.4.
    /// </summary>
    public static (int Major, int Minor)? ReadableIsa(int cudaMajor, int cudaMinor) => (cudaMajor, cudaMinor) switch
    {
        (12, 4) => (8, 4),
        (12, 5) or (12, 6) => (8, 5),
        (12, 7) => (8, 6),
        (12, 8) => (8, 7),
        (12, 9) => (8, 8),
        ( >= 13, _) => (9, 0),
        _ => null,
    };

    [GeneratedRegex(@"release (\d+)\.(\d+),")]
    private static partial Regex CudaRelease();

    /// <summary>ptxas and the newest PTX ISA it reads; fails the test with what to do when there is none, or it is older than 12.4.</summary>
    private static (string Path, string Version, int Major, int Minor) RequirePtxas()
    {
        string ptxas = FindPtxas() ?? throw new InvalidOperationException(
            "ptxas not found: run scripts/fetch-ptxas.sh once (it puts NVIDIA's PTX assembler into .ptxas/bin), or set ILGPU_UNLEARN_PTXAS");
        string version = Run(ptxas, "--version").Output.Trim().Split('\n')[^1].Trim();
        var release = CudaRelease().Match(Run(ptxas, "--version").Output);
        var isa = release.Success
            ? ReadableIsa(int.Parse(release.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(release.Groups[2].Value, CultureInfo.InvariantCulture))
            : null;
        if (isa is null)
            throw new InvalidOperationException($"{ptxas} ({version}) is older than CUDA 12.4 and cannot read PTX ISA 8.4: run scripts/fetch-ptxas.sh again");
        return (ptxas, version, isa.Value.Major, isa.Value.Minor);
    }

    /// <summary>ptxas: ILGPU_UNLEARN_PTXAS, else .ptxas/bin/ptxas in the repository.</summary>
    public static string? FindPtxas()
    {
        if (Environment.GetEnvironmentVariable("ILGPU_UNLEARN_PTXAS") is { Length: > 0 } named)
            return File.Exists(named) ? named : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "IlgpuUnlearn.sln")))
            {
                string path = Path.Combine(dir.FullName, ".ptxas", "bin", "ptxas");
                return File.Exists(path) ? path : null;
            }
        return null;
    }

    [Fact]
    public void EveryKernelAssemblesWithoutSpillsForSm80Sm86Sm90()
    {
        var (ptxas, version, readMajor, readMinor) = RequirePtxas();
        string emitted = $"\n.version {DriverIsa.Major}.{DriverIsa.Minor}\n";
        // Lowered only where this ptxas cannot read what ILGPU writes (8.8 -> 8.4 for 12.4).
        bool lower = (readMajor, readMinor).CompareTo((DriverIsa.Major, DriverIsa.Minor)) < 0;
        string assembled = lower ? $"\n.version {readMajor}.{readMinor}\n" : emitted;
        string dir = Directory.CreateTempSubdirectory("ilgpu-unlearn-ptxas-").FullName;
        var failures = new List<string>();
        try
        {
            output.WriteLine($"ptxas {version}; PTX {emitted.Trim()} {(lower ? $"lowered to {assembled.Trim()} for it" : "assembled as written")}");
            output.WriteLine($"{"kernel",-52} {"arch",-5} {"regs",4} {"smem",6} {"threads",7} {"occupancy",9}");
            // Compile here (ILGPU), assemble in parallel (ptxas is most of the time), report in order.
            var jobs = new List<(string Kernel, MethodInfo Method, int Arch, string File)>();
            for (int arch = 0; arch < Architectures.Length; arch++)
            {
                using var backend = KernelPtx.Backend(fixture.Context, Architectures[arch].Architecture, DriverIsa);
                foreach (var kernel in KernelPtx.AllKernels())
                {
                    string kernelName = KernelPtx.Describe(kernel);
                    string ptx = KernelPtx.Compile(backend, kernel);
                    if (!ptx.Contains(emitted, StringComparison.Ordinal))
                    {
                        failures.Add($"{kernelName} {Architectures[arch].Name}: no {emitted.Trim()} line");
                        continue;
                    }
                    string file = Path.Combine(dir, $"{jobs.Count}.ptx");
                    File.WriteAllText(file, ptx.Replace(emitted, assembled, StringComparison.Ordinal));
                    jobs.Add((kernelName, kernel, arch, file));
                }
            }
            var logs = new (int Exit, string Output)[jobs.Count];
            Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                j => logs[j] = Run(ptxas, $"-arch={Architectures[jobs[j].Arch].Name} -v \"{jobs[j].File}\" -o \"{jobs[j].File}.cubin\""));
            int kernels = jobs.Count;
            for (int j = 0; j < jobs.Count; j++)
            {
                var (kernelName, kernel, arch, _) = jobs[j];
                var (name, _, smRegisters, smThreads, smGroups, smShared) = Architectures[arch];
                var (exit, log) = logs[j];
                if (exit != 0)
                {
                    failures.Add($"{kernelName} {name}: ptxas exit {exit}: {log.Trim()}");
                    continue;
                }
                int registers = int.Parse(RegistersUsed().Match(log) is { Success: true } r ? r.Groups[1].Value : "0", CultureInfo.InvariantCulture);
                int shared = SharedMemory().Match(log) is { Success: true } s ? int.Parse(s.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
                foreach (Match m in LocalMemory().Matches(log))
                    if (m.Groups[1].Value != "0")
                        failures.Add($"{kernelName} {name}: {m.Value}");
                int threads = KernelPtx.MaxThreadsPerGroup(kernel);
                if ((long)registers * threads > DeviceLimits.RegistersPerGroup)
                    failures.Add($"{kernelName} {name}: {registers} registers x {threads} threads exceed 65,536");
                if (shared > DeviceLimits.MaxStaticSharedBytes)
                    failures.Add($"{kernelName} {name}: {shared} bytes of static shared memory exceed 48 KB");
                if (!PtxasFigures.Kernels.TryGetValue(kernelName, out var figure))
                    failures.Add($"{kernelName}: not in PtxasFigures; add [\"{kernelName}\"] = ({registers}, {shared}),");
                else if (registers > figure.Registers || shared != figure.SharedBytes)
                    failures.Add($"{kernelName} {name}: {registers} registers, {shared} bytes smem; PtxasFigures says ({figure.Registers}, {figure.SharedBytes})");
                // The GEMMs launch their Threads; the reductions up to 1,024; the element-wise kernels at ILGPU's choice (shown at 256).
                int group = threads == 1024 && KernelPtx.ImplicitlyGrouped(kernel) ? 256 : threads;
                double occupancy = Occupancy(registers, shared, group, smRegisters, smThreads, smGroups, smShared);
                output.WriteLine($"{kernelName,-52} {name,-5} {registers,4} {shared,6} {group,7} {occupancy,8:P0}");
            }
            Assert.True(kernels >= 3 * 40, $"only {kernels} kernel assemblies");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        foreach (var f in failures)
            output.WriteLine("FAIL " + f);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>
    /// The TF32 tensor-core GEMM (inline PTX: cvt.rna.tf32.f32 and mma.sync m16n8k8) exactly as ILGPU writes it, with no edit,
    /// at the newest PTX ISA this ptxas reads (8.4), through ptxas for sm_80 and sm_90; nvdisasm (fetched beside ptxas) shows the
    /// machine code, which must hold as many tensor-core HMMA.1688.F32.TF32 instructions as the PTX has mma.sync, with no spills.
    /// </summary>
    [Fact]
    public void Tf32KernelAssemblesAsWrittenIntoTensorCoreInstructionsForSm80AndSm90()
    {
        var (ptxas, version, readMajor, readMinor) = RequirePtxas();
        string nvdisasm = Path.Combine(Path.GetDirectoryName(ptxas)!, "nvdisasm");
        Assert.True(File.Exists(nvdisasm), $"{nvdisasm} not found: scripts/fetch-ptxas.sh puts it beside ptxas");
        var isa = CudaInstructionSet.ISA_84;
        Assert.True((isa.Major, isa.Minor).CompareTo((readMajor, readMinor)) <= 0, $"ptxas {version} reads PTX ISA {readMajor}.{readMinor} only");
        var variants = KernelPtx.AllKernels().Where(k => k.DeclaringType == typeof(ImplicitGemmTensorCore) && k.Name == nameof(ImplicitGemmTensorCore.Tf32)).ToArray();
        Assert.True(variants.Length >= 3, $"only {variants.Length} TF32 kernels");
        string dir = Directory.CreateTempSubdirectory("ilgpu-unlearn-tf32-").FullName;
        try
        {
            foreach (var (arch, name) in new[] { (CudaArchitecture.SM_80, "sm_80"), (CudaArchitecture.SM_90, "sm_90") })
            {
                using var backend = KernelPtx.Backend(fixture.Context, arch, isa);
                foreach (var kernel in variants)
                {
                    string kernelName = KernelPtx.Describe(kernel);
                    string ptx = KernelPtx.Compile(backend, kernel);
                    Assert.Contains($"\n.version {isa.Major}.{isa.Minor}\n", ptx);
                    string file = Path.Combine(dir, $"{name}-{kernel.GetGenericArguments()[0].Name}.ptx");
                    File.WriteAllText(file, ptx);
                    Assert.Equal(ptx, File.ReadAllText(file));   // what ptxas reads is ILGPU's text, byte for byte
                    var (exit, log) = Run(ptxas, $"-arch={name} -v \"{file}\" -o \"{file}.cubin\"");
                    Assert.True(exit == 0, $"{kernelName} {name}: ptxas exit {exit}: {log.Trim()}");
                    foreach (Match m in LocalMemory().Matches(log))
                        Assert.True(m.Groups[1].Value == "0", $"{kernelName} {name}: {m.Value}");
                    var (disExit, sass) = Run(nvdisasm, $"\"{file}.cubin\"");
                    Assert.True(disExit == 0, $"{kernelName} {name}: nvdisasm exit {disExit}: {sass.Trim()}");
                    int mma = Regex.Matches(ptx, @"\bmma\.sync\.aligned\.m16n8k8\.row\.col\.f32\.tf32\.tf32\.f32\b").Count;
                    int hmma = Regex.Matches(sass, @"\bHMMA\.1688\.F32\.TF32\b").Count;
                    output.WriteLine($"{kernelName,-52} {name}: {mma} mma.sync in the PTX, {hmma} HMMA.1688.F32.TF32 in the machine code");
                    Assert.True(mma >= 4, $"{kernelName}: the PTX has {mma} mma.sync");
                    Assert.True(hmma >= mma, $"{kernelName} {name}: {hmma} HMMA.1688.F32.TF32 for {mma} mma.sync");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(12, 4, 8, 4)]
    [InlineData(12, 6, 8, 5)]
    [InlineData(12, 9, 8, 8)]
    [InlineData(13, 0, 9, 0)]
    public void KnowsWhichPtxIsaEachPtxasReads(int cudaMajor, int cudaMinor, int isaMajor, int isaMinor)
    {
        Assert.Equal((isaMajor, isaMinor), ReadableIsa(cudaMajor, cudaMinor));
        Assert.Null(ReadableIsa(11, 8));
    }

    /// <summary>
    /// Theoretical occupancy: resident warps over the multiprocessor's warps, the resident groups being the fewest that registers
    /// (allocated per warp in units of 256), threads, the group limit and shared memory (plus 1 KB reserved per group) allow.
    /// </summary>
    public static double Occupancy(int registers, int sharedBytes, int threads, int smRegisters, int smThreads, int smGroups, int smShared)
    {
        int warps = (threads + 31) / 32;
        int registersPerWarp = (registers * 32 + 255) / 256 * 256;
        int byRegisters = registersPerWarp == 0 ? smGroups : smRegisters / registersPerWarp / warps;
        int byThreads = smThreads / (warps * 32);
        int byShared = smShared / (sharedBytes + 1024);
        int groups = Math.Min(Math.Min(byRegisters, byThreads), Math.Min(smGroups, byShared));
        return (double)groups * warps / (smThreads / 32);
    }

    [Fact]
    public void OccupancyMatchesHandWorkedCases()
    {
        // 40 registers x 256 threads on sm_80: 8 warps of 1,280 registers -> 6 groups (65,536 / 10,240) = 48 of 64 warps.
        Assert.Equal(0.75, Occupancy(40, 8320, 256, 65_536, 2_048, 32, 164 * 1024), 6);
        // 122 registers: 128 per thread allocated -> 4,096 per warp, 16 warps -> 2 groups of 8 warps = 25 %.
        Assert.Equal(0.25, Occupancy(122, 16_896, 256, 65_536, 2_048, 32, 164 * 1024), 6);
        // 22 registers x 1,024 threads: 24 per thread -> 768 per warp, 85 warps -> 2 groups of 32 warps = 100 %.
        Assert.Equal(1.0, Occupancy(22, 128, 1024, 65_536, 2_048, 32, 228 * 1024), 6);
    }

    private static (int Exit, string Output) Run(string program, string arguments)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
