using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace IlgpuUnlearn;

/// <summary>
/// The few CUDA driver API calls <see cref="CudaDiagnosis"/> makes itself, straight on the library <see cref="DriverLibraries"/>
/// loaded (not through ILGPU, which hides their results). Each returns the CUresult; a missing entry point is reported as
/// <see cref="EntryPointNotFoundException"/> naming it. Signatures from the CUDA Driver API reference (cuda.h).
/// </summary>
internal sealed unsafe class CudaDriverCalls(IntPtr library)
{
    /// <summary>CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR.</summary>
    private const int ComputeCapabilityMajor = 75, ComputeCapabilityMinor = 76;

    private IntPtr Export(string name) => NativeLibrary.TryGetExport(library, name, out IntPtr entry)
        ? entry
        : throw new EntryPointNotFoundException($"the driver library has no {name}");

    public int Init() => ((delegate* unmanaged<uint, int>)Export("cuInit"))(0);

    /// <summary>The driver's CUDA version as 1000 x major + 10 x minor (13000 for 13.0).</summary>
    public int DriverGetVersion(out int version)
    {
        int v = 0;
        int result = ((delegate* unmanaged<int*, int>)Export("cuDriverGetVersion"))(&v);
        version = v;
        return result;
    }

    public int DeviceGetCount(out int count)
    {
        int c = 0;
        int result = ((delegate* unmanaged<int*, int>)Export("cuDeviceGetCount"))(&c);
        count = c;
        return result;
    }

    public int DeviceGet(int ordinal, out int device)
    {
        int d = 0;
        int result = ((delegate* unmanaged<int*, int, int>)Export("cuDeviceGet"))(&d, ordinal);
        device = d;
        return result;
    }

    public int DeviceGetName(int device, out string name)
    {
        var buffer = stackalloc byte[256];
        buffer[0] = 0;
        int result = ((delegate* unmanaged<byte*, int, int, int>)Export("cuDeviceGetName"))(buffer, 256, device);
        buffer[255] = 0;
        name = Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "";
        return result;
    }

    public int DeviceComputeCapability(int device, out int major, out int minor)
    {
        var attribute = (delegate* unmanaged<int*, int, int, int>)Export("cuDeviceGetAttribute");
        int a = 0, b = 0;
        int result = attribute(&a, ComputeCapabilityMajor, device);
        if (result == 0) result = attribute(&b, ComputeCapabilityMinor, device);
        major = a;
        minor = b;
        return result;
    }

    /// <summary>The device's memory in bytes (cuDeviceTotalMem_v2).</summary>
    public int DeviceTotalMemory(int device, out long bytes)
    {
        nuint total = 0;
        int result = ((delegate* unmanaged<nuint*, int, int>)Export("cuDeviceTotalMem_v2"))(&total, device);
        bytes = (long)total;
        return result;
    }

    /// <summary>
    /// A CUresult's name: the driver's own (cuGetErrorName) when it can say, else ILGPU's <see cref="CudaError"/> name, else
    /// "CUDA error N".
    /// </summary>
    public string ErrorName(int result)
    {
        if (NativeLibrary.TryGetExport(library, "cuGetErrorName", out IntPtr entry))
        {
            byte* text = null;
            if (((delegate* unmanaged<int, byte**, int>)entry)(result, &text) == 0 && text != null)
                return Marshal.PtrToStringUTF8((IntPtr)text) ?? KnownName(result);
        }
        return KnownName(result);
    }

    /// <summary>ILGPU's name of a CUresult, or "CUDA error N" for one it does not list.</summary>
    public static string KnownName(int result) => result == DriverLibraries.CudaErrorStubLibrary
        ? "CUDA_ERROR_STUB_LIBRARY"
        : Enum.IsDefined(typeof(CudaError), result) ? ((CudaError)result).ToString() : $"CUDA error {result}";

    /// <summary>"13.0" from 13000.</summary>
    public static string VersionText(int version)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{version / 1000}.{version % 1000 / 10}");
}
