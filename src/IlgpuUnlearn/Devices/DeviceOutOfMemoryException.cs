namespace IlgpuUnlearn;

/// <summary>An allocation did not fit in the device's memory.</summary>
public sealed class DeviceOutOfMemoryException : Exception
{
    public DeviceOutOfMemoryException(string device, long requestedBytes, long allocatedBytes, Exception? inner)
        : base($"Out of memory on {device}: could not allocate {Mib(requestedBytes)} with {Mib(allocatedBytes)} already allocated. " +
               "Lower --batch-size (activation memory grows with it) and run again.", inner)
    {
        RequestedBytes = requestedBytes;
        AllocatedBytes = allocatedBytes;
    }

    public long RequestedBytes { get; }
    public long AllocatedBytes { get; }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";
}
