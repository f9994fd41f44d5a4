using ILGPU.Runtime.Cuda;
using Xunit.Abstractions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// No kernel's PTX marks a thread-dependent branch uniform. <c>bra.uni</c> promises ptxas (and the driver's JIT) that every thread
/// of the warp takes the same way; ptxas 11.8 happens to tolerate a broken promise, a newer JIT may not. ILGPU's uniformity
/// analysis takes an implicitly grouped kernel's index for a uniform parameter, so at OptimizationLevel.O2 (which uses that
/// analysis) the element-wise kernels came out with <c>@%p bra.uni</c> on tests of their own element (ReLU backward, LoadImages,
/// the naive convolutions, ...). <see cref="PtxUniformBranches"/> finds those.
/// </summary>
[Collection(IlgpuCpuCollection.Name)]
public sealed class PtxUniformBranchTests(IlgpuCpuFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void NoKernelMarksAThreadDependentBranchUniform()
    {
        using var backend = KernelPtx.Backend(fixture.Context, CudaArchitecture.SM_80);
        var failures = new List<string>();
        int kernels = 0, uniform = 0;
        foreach (var kernel in KernelPtx.AllKernels())
        {
            string ptx = KernelPtx.Compile(backend, kernel);
            kernels++;
            uniform += ptx.Split('\n').Count(l => l.Contains("bra.uni", StringComparison.Ordinal) && l.TrimStart().StartsWith('@'));
            foreach (var line in PtxUniformBranches.ThreadDependent(ptx))
                failures.Add($"{KernelPtx.Describe(kernel)}: {line}");
        }
        output.WriteLine($"{kernels} kernels, {uniform} predicated bra.uni in all, {failures.Count} on thread-dependent predicates");
        foreach (var f in failures)
            output.WriteLine(f);
        Assert.True(kernels >= 40);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>The analysis itself: the ReLU-backward pattern is found; a loop bound from a parameter in a reused predicate is not.</summary>
    [Fact]
    public void AnalysisTellsThreadDependentFromUniformBranches()
    {
        const string ptx = """
            .visible .entry Kernel(
            	.param .b32 _n
            )
            {
            	ld.param.b32	%r2, [_n];
            	mov.b32	%r3, %ctaid.x;
            	mov.b32	%r4, %ntid.x;
            	mov.b32	%r5, %tid.x;
            	mad.lo.s32	%r1, %r3, %r4, %r5;
            	setp.ge.s32	%p1, %r1, %r2;
            	@%p1 bra.uni	L_1;
            	mov.b32	%r5, 0;
            	L_2:
            	setp.ge.s32	%p1, %r5, %r2;
            	@%p1 bra.uni	L_1;
            	add.s32	%r5, %r5, 1;
            	bra.uni	L_2;
            	L_1:
            	ret;
            }
            """;
        var found = PtxUniformBranches.ThreadDependent(ptx);
        foreach (var f in found)
            output.WriteLine(f);
        Assert.Single(found);
        Assert.Equal("line 11: @%p1 bra.uni\tL_1", found[0]);
        // The same with the loop counter started from the thread index: both branches are thread-dependent.
        var both = PtxUniformBranches.ThreadDependent(ptx.Replace("mov.b32\t%r5, 0;", "mov.b32\t%r5, %r1;"));
        Assert.Equal(2, both.Count);
        Assert.Empty(PtxUniformBranches.ThreadDependent(ptx.Replace("%tid.x", "%ctaid.y")));
    }
}
