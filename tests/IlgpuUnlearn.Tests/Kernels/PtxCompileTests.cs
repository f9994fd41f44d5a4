using System.Reflection;
using ILGPU.Runtime.Cuda;
using IlgpuUnlearn.Kernels;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Compiles every kernel (the naive references included) to PTX for sm_80 with no GPU present, catching what would only fail
/// on a real device. A kernel is every public static void method of a *Kernels class and of the ImplicitGemm* classes;
/// one whose first parameter is an Index1D is implicitly grouped, the others explicitly; generic kernels are compiled for every
/// <see cref="IGemmOperands{TColumn}"/> in the kernels assembly. The PTX must not declare .extern functions: ILGPU emits an unresolved
/// extern for BCL methods it has no intrinsic for (MathF.FusedMultiplyAdd is one), which only the driver's JIT would reject.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class PtxCompileTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    public static IEnumerable<MethodInfo> AllKernels() => KernelPtx.AllKernels();

    public static TheoryData<string> KernelNames()
    {
        var data = new TheoryData<string>();
        foreach (var k in AllKernels())
            data.Add(Describe(k));
        return data;
    }

    private static string Describe(MethodInfo m) => KernelPtx.Describe(m);

    [Fact]
    public void FindsEveryKernelFamily()
    {
        var names = AllKernels().Select(Describe).ToList();
        foreach (var n in names)
            output.WriteLine(n);
        Assert.Contains("Conv2dKernels.ForwardNaive", names);
        Assert.Contains("Conv2dKernels.BackwardWeightNaive", names);
        Assert.Contains("ImplicitGemm.Tiled<BackwardWeightGemm>", names);
        Assert.Contains("OptimizerKernels.ClipAndSgdStep", names);
        Assert.Contains("OptimizerKernels.MaskedClipAndSgdStep", names);
        Assert.Contains("ReductionKernels.PartialSums", names);
        Assert.Contains("ImplicitGemmWide.Tiled128<ForwardGemm>", names);
        Assert.Contains("ImplicitGemmTensorCore.Tf32<BackwardInputPhaseGemm>", names);
        Assert.Contains("BatchNormKernels.ChunkStatistics", names);
        Assert.Contains("BatchNormKernels.MergeBackwardReduce", names);
        Assert.Contains("BatchNormKernels.EvalStatistics", names);
        Assert.Contains("BatchNormKernels.EvalBackwardInput", names);
        Assert.Contains("LossKernels.KlDivergencePerSample", names);
        Assert.Contains("ElementwiseKernels.Multiply", names);
        Assert.Contains("ElementwiseKernels.AddScaledSign", names);
        Assert.True(names.Count >= 40, $"only {names.Count} kernels found");
    }

    [Fact]
    public void EveryKernelCompilesToPtxForSm80()
    {
        using var backend = KernelPtx.Backend(fixture.Context, CudaArchitecture.SM_80);
        var failures = new List<string>();
        foreach (var kernel in AllKernels())
        {
            string name = Describe(kernel);
            bool implicitlyGrouped = KernelPtx.ImplicitlyGrouped(kernel);
            try
            {
                string ptx = KernelPtx.Compile(backend, kernel);
                // Set ILGPU_UNLEARN_PTX_DIR to keep the PTX (to read it, or to run ptxas on it where a CUDA toolkit exists).
                if (Environment.GetEnvironmentVariable("ILGPU_UNLEARN_PTX_DIR") is { Length: > 0 } dir)
                {
                    Directory.CreateDirectory(dir);
                    File.WriteAllText(Path.Combine(dir, string.Concat(name.Split(Path.GetInvalidFileNameChars())).Replace('<', '_').Replace('>', '_') + ".ptx"), ptx);
                }
                bool ok = ptx.Contains(".target sm_80", StringComparison.Ordinal) && ptx.Contains(".entry", StringComparison.Ordinal)
                          && !ptx.Contains(".extern", StringComparison.Ordinal);
                output.WriteLine($"{(ok ? "ok  " : "FAIL")} {name,-45} {(implicitlyGrouped ? "implicit" : "explicit")} " +
                                 $"{ptx.Length,6} chars, bar.sync {Count(ptx, "bar.sync"),2}, shfl {Count(ptx, "shfl.sync"),2}, " +
                                 $"local memory {(ptx.Contains(".local", StringComparison.Ordinal) ? "yes" : "no")}");
                if (kernel.DeclaringType == typeof(ImplicitGemmTensorCore) && kernel.Name == nameof(ImplicitGemmTensorCore.Tf32))
                {
                    // The inline PTX must arrive intact: one mma per fragment product (4 per k8 step, 2 steps), TF32 rounding.
                    int mma = Count(ptx, "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32");
                    output.WriteLine($"     mma.sync {mma}, cvt.rna.tf32.f32 {Count(ptx, "cvt.rna.tf32.f32")}: {FirstLine(ptx, "mma.sync")}");
                    if (mma < 4 || !ptx.Contains("cvt.rna.tf32.f32", StringComparison.Ordinal))
                        failures.Add($"{name}: the mma.sync / cvt.rna.tf32 inline PTX is missing");
                }
                if (!ok)
                    failures.Add($"{name}: {(ptx.Contains(".extern", StringComparison.Ordinal) ? "declares an .extern function" : "no entry for sm_80")}");
            }
            catch (Exception e)
            {
                output.WriteLine($"FAIL {name}: {e.GetBaseException().Message}");
                failures.Add($"{name}: {e.GetBaseException().Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static string FirstLine(string text, string what)
    {
        int i = text.IndexOf(what, StringComparison.Ordinal);
        if (i < 0)
            return "";
        int end = text.IndexOf('\n', i);
        return text[i..(end < 0 ? text.Length : end)].Trim();
    }

    private static int Count(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
            count++;
        return count;
    }
}
