using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuUnlearn.Kernels;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Every kernel of the kernels assembly and its PTX, compiled with no GPU present. A kernel is every public static void method of
/// a *Kernels class and of the ImplicitGemm* classes; one whose first parameter is an Index1D is implicitly grouped, the others
/// explicitly; generic kernels are compiled for every <see cref="IGemmOperands{TColumn}"/> in the kernels assembly.
/// </summary>
internal static class KernelPtx
{
    public static IEnumerable<MethodInfo> AllKernels()
    {
        var assembly = typeof(ImplicitGemm).Assembly;
        // Each IGemmOperands<TColumn> implementation with its column type: the type arguments of Tiled<TOperands, TColumn>.
        var operands = assembly.GetTypes()
            .Where(t => t.IsValueType)
            .SelectMany(t => t.GetInterfaces()
                .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IGemmOperands<>))
                .Select(i => new[] { t, i.GetGenericArguments()[0] }))
            .ToArray();
        var kernelTypes = assembly.GetTypes().Where(t => t.IsAbstract && t.IsSealed && (t.Name.EndsWith("Kernels", StringComparison.Ordinal) || t.Name.StartsWith("ImplicitGemm", StringComparison.Ordinal)));
        foreach (var type in kernelTypes)
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.ReturnType == typeof(void)))
            {
                if (method.IsGenericMethodDefinition)
                    foreach (var op in operands)
                        yield return method.MakeGenericMethod(op);
                else
                    yield return method;
            }
    }

    /// <summary>Class.Method or Class.Method&lt;Operands&gt;: the names <see cref="Ilgpu.LaunchPlanner"/> gives its launches.</summary>
    public static string Describe(MethodInfo m)
        => $"{m.DeclaringType!.Name}.{m.Name}{(m.IsGenericMethod ? $"<{m.GetGenericArguments()[0].Name}>" : "")}";

    public static bool ImplicitlyGrouped(MethodInfo kernel)
        => kernel.GetParameters() is { Length: > 0 } p && p[0].ParameterType == typeof(Index1D);

    /// <summary>
    /// The most threads a group of this kernel can have: the class's Threads constant where it has one (the GEMMs), else 1,024
    /// (the reductions' largest group on CUDA; an implicitly grouped kernel's group is ILGPU's choice, at most that).
    /// </summary>
    public static int MaxThreadsPerGroup(MethodInfo kernel)
        => kernel.DeclaringType!.GetField("Threads", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } f ? (int)f.GetRawConstantValue()! : 1024;

    /// <summary>A PTX backend for <paramref name="architecture"/> writing PTX ISA <paramref name="instructionSet"/> (8.0 when not named).</summary>
    public static PTXBackend Backend(Context context, CudaArchitecture architecture, CudaInstructionSet? instructionSet = null)
        => new(context, architecture, instructionSet ?? CudaInstructionSet.ISA_80, null!);

    /// <summary>The PTX of one kernel, at the backend's PTX ISA version.</summary>
    public static string Compile(PTXBackend backend, MethodInfo kernel)
    {
        var entry = ImplicitlyGrouped(kernel)
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        return ((PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty)).PTXAssembly;
    }
}
