using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace IlgpuUnlearn;

/// <summary>
/// Where ILGPU finds the GPU drivers. ILGPU 1.5.3 imports the CUDA driver as <c>cuda</c> and OpenCL as <c>OpenCL</c>; on Linux
/// .NET turns those into libcuda.so, cuda.so, cuda and libcuda, never the versioned <c>libcuda.so.1</c> that driver-only installs
/// and container runtimes provide (often alone), and ILGPU then swallows the failure and reports no device. <see cref="Install"/>
/// puts a resolver on ILGPU's assembly (before the first context: <see cref="Devices.CreateContext"/> calls it) that loads the
/// versioned name first, then the unversioned one, and refuses the CUDA toolkit's stub library, the libcuda.so in the toolkit's
/// <c>stubs/</c> folder that exists for linking only: it is refused by its folder, and by what it does (its cuInit returns
/// CUDA_ERROR_STUB_LIBRARY, 34). A refused stub makes the import fail with that reason instead of letting .NET probe further.
/// On Windows (nvcuda.dll) and under WSL (ILGPU installs its own resolver for /usr/lib/wsl/lib there; a second would throw) .NET's
/// own probing is left alone.
/// </summary>
public static class DriverLibraries
{
    /// <summary>CUresult CUDA_ERROR_STUB_LIBRARY: what the toolkit's stub libcuda returns from every call.</summary>
    public const int CudaErrorStubLibrary = 34;

    private static readonly ConcurrentDictionary<string, Lazy<DriverLoad>> Loads = new(StringComparer.Ordinal);
    private static int installState;   // 0 not yet, 1 installed, 2 left to .NET / ILGPU

    /// <summary>
    /// The file names the resolver tries, in order, for one of ILGPU's import names on Linux; empty for a name it leaves to .NET's
    /// default probing.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string importName) => importName switch
    {
        "cuda" => ["libcuda.so.1", "libcuda.so"],
        "OpenCL" => ["libOpenCL.so.1", "libOpenCL.so"],
        _ => [],
    };

    /// <summary>Whether the resolver is on ILGPU's assembly (false before <see cref="Install"/>, on Windows and under WSL).</summary>
    public static bool Installed => Volatile.Read(ref installState) == 1;

    /// <summary>
    /// Installs the resolver on ILGPU's assembly, once; later calls do nothing. Must run before ILGPU's first call into a driver
    /// (ILGPU binds its driver API once per process).
    /// </summary>
    public static void Install()
    {
        if (Volatile.Read(ref installState) != 0) return;
        lock (Loads)
        {
            if (installState != 0) return;
            if (!OperatingSystem.IsLinux() || RunningOnWsl())
            {
                installState = 2;
                return;
            }
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(ILGPU.Context).Assembly, Resolve);
                installState = 1;
            }
            catch (InvalidOperationException)
            {
                installState = 2;   // another resolver came first; .NET and that one decide
            }
        }
    }

    /// <summary>
    /// The load of <paramref name="importName"/>'s library through <see cref="Candidates"/>, done once per process and shared by
    /// the resolver and <c>devices --diagnose</c>; null for a name without candidates.
    /// </summary>
    public static DriverLoad? Load(string importName)
    {
        var candidates = Candidates(importName);
        return candidates.Count == 0 ? null : Loads.GetOrAdd(importName, n => new Lazy<DriverLoad>(() => Load(n, candidates))).Value;
    }

    /// <summary>
    /// Tries <paramref name="candidates"/> (file names searched as dlopen searches, or paths) in order and keeps the first that
    /// loads and is not a stub: for <c>cuda</c> one whose cuInit(0) does not return CUDA_ERROR_STUB_LIBRARY. A refused library is
    /// unloaded again. Every attempt is described in <see cref="DriverLoad.Attempts"/>.
    /// </summary>
    public static DriverLoad Load(string importName, IReadOnlyList<string> candidates)
    {
        var attempts = new List<string>();
        bool stubRefused = false;
        foreach (string name in candidates)
        {
            IntPtr handle;
            try
            {
                handle = NativeLibrary.Load(name);
            }
            catch (DllNotFoundException e)
            {
                attempts.Add($"{name}: not loaded ({LoaderReason(e.Message)})");
                continue;
            }
            string symbol = importName == "cuda" ? "cuInit" : "clGetPlatformIDs";
            if (!NativeLibrary.TryGetExport(handle, symbol, out IntPtr entry))
            {
                NativeLibrary.Free(handle);
                attempts.Add($"{name}: refused, it has no {symbol}");
                continue;
            }
            string path = LoadedPath(entry) ?? name;
            if (IsStubPath(path))
            {
                NativeLibrary.Free(handle);
                stubRefused = true;
                attempts.Add($"{name} ({path}): refused, a stub library (in a stubs/ folder, for linking only), not the driver");
                continue;
            }
            int? initResult = null;
            if (importName == "cuda")
            {
                initResult = CallCuInit(entry);
                if (initResult == CudaErrorStubLibrary)
                {
                    NativeLibrary.Free(handle);
                    stubRefused = true;
                    attempts.Add($"{name} ({path}): refused, its cuInit returned CUDA_ERROR_STUB_LIBRARY ({CudaErrorStubLibrary}): the CUDA toolkit's stub library, not the driver");
                    continue;
                }
            }
            attempts.Add($"{name}: loaded {path}");
            return new DriverLoad(importName, handle, path, initResult, stubRefused, attempts);
        }
        return new DriverLoad(importName, IntPtr.Zero, null, null, stubRefused, attempts);
    }

    /// <summary>Whether a library path lies in a folder named stubs (the CUDA toolkit's lib64/stubs/libcuda.so).</summary>
    public static bool IsStubPath(string path) =>
        path.Replace('\\', '/').Split('/').SkipLast(1).Any(part => string.Equals(part, "stubs", StringComparison.OrdinalIgnoreCase));

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var load = Load(libraryName);
        if (load is null || load.Loaded) return load?.Handle ?? IntPtr.Zero;
        // Only stubs were found: fail the import with the reason rather than let .NET probe libcuda.so again and hand ILGPU the
        // stub. ILGPU treats DllNotFoundException as "no CUDA".
        if (load.StubRefused) throw new DllNotFoundException(load.Summary);
        return IntPtr.Zero;
    }

    private static unsafe int CallCuInit(IntPtr cuInit) => ((delegate* unmanaged<uint, int>)cuInit)(0);

    /// <summary>The file a loaded symbol comes from, as the dynamic loader found it (dladdr); null where it cannot say.</summary>
    private static unsafe string? LoadedPath(IntPtr symbol)
    {
        if (!OperatingSystem.IsLinux()) return null;
        DlInfo info;
        try
        {
            if (dladdr(symbol, &info) == 0 || info.FileName == IntPtr.Zero) return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return Marshal.PtrToStringUTF8(info.FileName);
    }

    private static bool RunningOnWsl()
    {
        try
        {
            return File.ReadAllText("/proc/version").Contains("microsoft", StringComparison.OrdinalIgnoreCase)
                && Directory.Exists("/usr/lib/wsl/lib");
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The dynamic loader's own words (dlerror), which .NET puts on the last line of its message.</summary>
    private static string LoaderReason(string message)
        => message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } lines ? lines[^1] : message;

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public IntPtr FileName;     // dli_fname
        public IntPtr BaseAddress;  // dli_fbase
        public IntPtr SymbolName;   // dli_sname
        public IntPtr SymbolAddress;// dli_saddr
    }

    [DllImport("libc.so.6", EntryPoint = "dladdr")]
    private static extern unsafe int dladdr(IntPtr address, DlInfo* info);
}

/// <summary>
/// How one driver library was looked for: the handle and path of the one loaded (Handle zero when none), cuInit(0)'s result when
/// the resolver called it (CUDA), whether a stub was refused, and one line per file tried.
/// </summary>
public sealed record DriverLoad(string ImportName, IntPtr Handle, string? Path, int? CuInitResult, bool StubRefused, IReadOnlyList<string> Attempts)
{
    public bool Loaded => Handle != IntPtr.Zero;

    /// <summary>One line: what was loaded, or why nothing was.</summary>
    public string Summary => Loaded
        ? $"{ImportName}: {Path}"
        : $"{ImportName}: no usable library ({string.Join("; ", Attempts)})";
}
